"""The fast classification path gives exactly the outputs of the previous (slower) implementation.

``golden_v2.jsonl.gz`` holds 591 inputs (the 539 fixture gazette titles, a dozen crafted ones:
abstracts, claims, English and mixed text, full-width characters, characters outside the BMP,
IPC as a string, no title; and 40 repeats) with the v2 outputs the per-document implementation
(Aho-Corasick scan, no de-duplication) produced, with IPC, text only and without explanations.
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

import pytest

from models.classifier import PARALLEL_MIN_DOCS, load_classifier

GOLDEN = Path(__file__).parent / "fixtures" / "classifier" / "golden_v2.jsonl.gz"
MODES = {
    "with_ipc": {},
    "text_only": {"text_only": True},
    "no_explain": {"explain": False},
}


def _golden() -> list[dict[str, Any]]:
    with gzip.open(GOLDEN, "rt", encoding="utf-8") as handle:
        return [json.loads(line) for line in handle]


def _assert_same(got: dict[str, Any], want: dict[str, Any]) -> None:
    assert got["scores"] == pytest.approx(want["scores"], abs=1e-6), want["number"]
    assert {**got, "scores": want["scores"]} == want


@pytest.mark.parametrize("mode", list(MODES))
def test_outputs_equal_the_previous_implementation(mode: str) -> None:
    golden = _golden()
    results = load_classifier(version="v2").classify([g["input"] for g in golden], **MODES[mode])
    assert len(results) == len(golden)
    for result, row in zip(results, golden, strict=True):
        _assert_same(result.to_dict(), row[mode])


def test_forked_workers_and_one_by_one_give_the_same_outputs() -> None:
    """Parallel shares, per-batch de-duplication and single documents all agree."""
    golden = _golden()
    model = load_classifier(version="v2")
    repeats = PARALLEL_MIN_DOCS // len(golden) + 1
    inputs = [g["input"] for g in golden] * repeats
    parallel = model.classify(inputs, workers=2)
    for k, result in enumerate(parallel):
        _assert_same(result.to_dict(), golden[k % len(golden)]["with_ipc"])
    for row in golden[::37]:
        (single,) = model.classify([row["input"]])
        _assert_same(single.to_dict(), row["with_ipc"])


def test_duplicates_get_their_own_result_objects() -> None:
    model = load_classifier(version="v2")
    record = {"number": "A", "title": "一种取向硅钢的冷轧方法", "ipc": ["C21D8/12"]}
    first, second = model.classify([record, {**record, "number": "B"}])
    assert (first.number, second.number) == ("A", "B")
    first.scores["steel"] = 0.0
    first.subfields.clear()
    first.explanation["steel"]["ipc"].append("X")
    assert second.scores["steel"] > 0.9
    assert second.subfields
    assert second.explanation["steel"]["ipc"] == ["C21D"]


def test_ngram_lookup_finds_what_the_aho_corasick_scan_finds() -> None:
    from models.ngrams import NgramTable
    from models.text import cjk_matcher

    vocabulary = {
        t: i for i, t in enumerate(["钢", "硅钢", "取向硅", "向硅钢", "a", "steel", "一"])
    }
    texts = ["一种取向硅钢", "", "steel 钢钢", "\ud800钢\x00硅钢", "𠀀硅钢𠀀", "取向硅钢的钢"]
    rows, ids = NgramTable(vocabulary).lookup(texts)
    matcher = cjk_matcher(vocabulary)
    expected = sorted((r, i) for r, text in enumerate(texts) for _, i in matcher.iter(text))
    assert sorted(zip(rows.tolist(), ids.tolist(), strict=True)) == expected
    empty_rows, _ = NgramTable({}).lookup(texts)
    assert len(empty_rows) == 0

"""`ipwarn classify`: the JSON-lines contract, with the shipped model (no training)."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from models.artifact import DEFAULT_VERSION
from warning.cli import cli

LABELS = {"steel", "equipment", "chemicals", "minerals", "optoelectronics", "other"}


def _run(args, stdin="", settings=None):
    result = CliRunner().invoke(cli, ["classify", *args], input=stdin)
    out = [json.loads(line) for line in result.stdout.splitlines() if line.strip()]
    return result, out


def _lines(*items):
    return (
        "\n".join(
            item if isinstance(item, str) else json.dumps(item, ensure_ascii=False)
            for item in items
        )
        + "\n"
    )


def test_every_line_gets_a_result_in_input_order(settings):
    stdin = _lines(
        {"number": "CN1A", "title": "一种取向硅钢的冷轧方法", "ipc": ["C21D 8/12(2006.01)I"]},
        {"number": "CN2A", "title": "一种锂离子电池正极材料及其制备方法"},
        {"number": "CN3U", "title": "一种儿童玩具车", "ipc": "A63H17/26"},
    )
    result, out = _run(["-"], stdin)
    assert result.exit_code == 0, result.stderr
    assert [r["number"] for r in out] == ["CN1A", "CN2A", "CN3U"]
    assert out[0]["sectors"] == ["steel"]
    assert out[1]["sectors"] == ["optoelectronics"]
    assert out[2]["sectors"] == ["other"]
    for r in out:
        assert set(r["scores"]) == LABELS
        assert all(0.0 <= p <= 1.0 for p in r["scores"].values())
        assert r["model_version"] == DEFAULT_VERSION
        assert set(r) == {
            "number",
            "sectors",
            "scores",
            "subfields",
            "explanation",
            "model_version",
        }


def test_explanation_names_ipc_prefix_and_terms(settings):
    _, out = _run(
        [], _lines({"number": "CN1A", "title": "一种取向硅钢的冷轧方法", "ipc": ["C21D8/12"]})
    )
    steel = out[0]["explanation"]["steel"]
    assert steel["ipc"] == ["C21D"]
    assert any("钢" in term for term in steel["terms"])
    subfields = {(s["sector"], s["subfield"]) for s in out[0]["subfields"]}
    assert ("steel", "silicon_steel") in subfields


def test_text_only_ignores_ipc(settings):
    doc = {"number": "CN9A", "title": "一种装置", "ipc": ["C21D8/12"]}
    _, with_ipc = _run([], _lines(doc))
    _, text_only = _run(["--text-only"], _lines(doc))
    assert with_ipc[0]["sectors"] == ["steel"]
    assert text_only[0]["sectors"] == ["other"]
    assert text_only[0]["explanation"]["other"]["ipc"] == []


def test_bad_lines_are_reported_by_number_and_the_rest_classified(settings, tmp_path):
    path = tmp_path / "in.jsonl"
    path.write_text(
        _lines(
            {"number": "CN1A", "title": "一种高炉炉顶布料装置"},
            "{not json",
            {"title": "没有公开号"},
            "",
            {"number": "CN4A", "title": 42},
            ["a", "list"],
            {"number": "CN7A", "title": "一种聚丙烯复合材料"},
        ),
        encoding="utf-8",
    )
    result, out = _run([str(path)])
    assert result.exit_code == 2
    assert [r["number"] for r in out] == ["CN1A", "CN7A"]
    errors = result.stderr.strip().splitlines()
    assert f"{path}:2: invalid JSON" in errors[0]
    assert f"{path}:3: number:" in errors[1]
    assert f"{path}:5: title: expected a string" in errors[2]
    assert f"{path}:6: expected a JSON object" in errors[3]
    assert len(errors) == 4


def test_english_document_with_ipc(settings):
    _, out = _run(
        [],
        _lines(
            {
                "number": "US8930553B2",
                "title": "Hydraulic excavator",
                "ipc": ["E02F 3/32"],
                "language": "en",
            }
        ),
    )
    assert out[0]["sectors"] == ["equipment"]
    assert {
        "sector": "equipment",
        "subfield": "construction_machinery",
        "score": out[0]["scores"]["equipment"],
    } in out[0]["subfields"]


@pytest.mark.parametrize(
    "title", ["Rolling mill stand with work rolls", "Froth flotation of iron ore"]
)
def test_english_text_alone_reaches_a_sector(settings, title):
    _, out = _run(["--text-only"], _lines({"number": "US1", "title": title, "language": "en"}))
    assert out[0]["sectors"] != ["other"]


def test_unknown_model_version_is_a_clear_error(settings):
    result, _ = _run(["--model", "v999"], _lines({"number": "CN1A", "title": "一种钢"}))
    assert result.exit_code != 0
    assert "v999" in str(result.exception) or "v999" in result.stderr

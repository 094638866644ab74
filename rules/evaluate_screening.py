"""Precision and recall of infringement-risk screening on the labelled 2019-W28 set.

``python -m rules.evaluate_screening`` screens the real gazette week (the packaged 64,466
invention/utility titles of 2019-07-09 and 2019-07-12, or ``--docs`` `ipwarn parse` lines) with
the previous screening (TF-IDF cosine, one threshold) and the current one side by side, scores
both against the judgments in ``tests/fixtures/screening/`` (protocol and rubric in its
PROTOCOL.md) and counts screening alerts per example enterprise. ``--pool`` writes the candidate
pool that was judged (the union of what each method returns plus an independent retrieval).
"""

from __future__ import annotations

import argparse
import csv
import gzip
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from rules.docview import MatchDoc
from rules.storedocs import ipc_tags
from warning.errors import InputError, Problem

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "fixtures" / "screening"
EXAMPLES = Path(__file__).resolve().parent / "examples" / "subscriptions.yaml"
GAZETTE = ROOT / "models" / "data" / "gazette_2019.jsonl.gz"
KIND_LETTER = {"invention_published": "A", "invention_authorized": "B", "utility_new": "U"}
#: candidates per product from the independent retrieval (character n-gram cosine)
POOL_DEPTH = 30
LABELS = ("relevant", "related", "unrelated")


@dataclass(frozen=True)
class Product:
    id: str
    enterprise: str
    subscription: str
    text: str
    scope: dict[str, Any]


def load_products(path: Path = FIXTURES / "products.yaml") -> list[Product]:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    examples = yaml.safe_load(EXAMPLES.read_text(encoding="utf-8"))
    subs = {
        (e["id"], s["name"]): s for e in examples["enterprises"] for s in e.get("subscriptions", [])
    }
    out = []
    for i, item in enumerate(data["products"]):
        if "text" in item:
            out.append(
                Product(item["id"], item["enterprise"], "default", item["text"], item["scope"])
            )
            continue
        sub = subs.get((item["enterprise"], item["subscription"]))
        if sub is None:
            raise InputError(
                [Problem("no such example subscription", file=str(path), field=f"products.{i}")]
            )
        scope = dict(sub["scope"])
        text = scope.pop("products")[item["product"] - 1]
        out.append(Product(item["id"], item["enterprise"], item["subscription"], text, scope))
    return out


def load_week(path: Path | None = None) -> list[MatchDoc]:
    """The W28 documents (A/B/U) with IPC-derived tags."""
    docs: list[MatchDoc] = []
    if path is None:
        with gzip.open(GAZETTE, "rt", encoding="utf-8") as handle:
            for line in handle:
                row = json.loads(line)
                docs.append(
                    MatchDoc(
                        number=row["number"],
                        office="CN",
                        kind=KIND_LETTER.get(row["kind"], row["number"][-1]),
                        title=row["title"],
                        ipc=list(row["ipc"]),
                    )
                )
    else:
        from rules.docview import doc_from_json

        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                doc = doc_from_json(json.loads(line))
                if doc.kind_letter in ("A", "B", "U"):
                    docs.append(doc)
    for doc in docs:
        doc.sectors, doc.subfields = ipc_tags(doc.ipc)
    return docs

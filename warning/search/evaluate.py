"""Search quality on real data, against a plain baseline measured in the same run.

``python -m warning.search.evaluate [--queries N] [--limit-docs N]``

Corpus: the 64,466 CNIPA gazette titles shipped for the classifier
(``models/data/gazette_2019.jsonl.gz``) plus 33 real patents with abstract and first claim
(``tests/fixtures/search/cnki_materials_33.jsonl``, see its ORIGIN.md).

* **Title queries**: for N sampled gazette documents, the OR of the title's content words; the
  relevant documents are the *other* documents whose first IPC symbol has the same main group
  (C21D8/12 -> C21D8). nDCG@10 (binary gain) and recall@100 = relevant found in the top 100 /
  min(relevant, 100).
* **Self-retrieval**: each of the 33 patents is indexed with title + first claim and looked
  for with its abstract, then indexed with title + abstract and looked for with its first
  claim (the query text never is the indexed text). Recall@1, recall@10, MRR.

The system is the product's: jieba tokens (:func:`warning.search.tokens.index_tokens`), queries
from :func:`warning.search.screen.query_words` through the product's query compiler, FTS5
``bm25()``. The baseline is FTS5 over character bigrams without jieba, queries made of the
same number of the text's most frequent bigrams.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import re
import sqlite3
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from models.data import read_gazette
from rules.query import fold_text
from warning.search.querybuild import any_of
from warning.search.screen import QUERY_WORDS, boilerplate, query_words
from warning.search.tokens import index_tokens

CNKI = (
    Path(__file__).resolve().parents[2]
    / "tests"
    / "fixtures"
    / "search"
    / "cnki_materials_33.jsonl"
)
_CJK_RUN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff]+|[a-z0-9]+")


def bigrams(text: str) -> list[str]:
    """The baseline's tokens: CJK character bigrams (a lone character as itself), Latin words."""
    out: list[str] = []
    for run in _CJK_RUN.findall(fold_text(text)):
        if run[0] < "\u3400" or len(run) == 1:
            out.append(run)
        else:
            out.extend(run[i : i + 2] for i in range(len(run) - 1))
    return out


def bigram_query(text: str) -> str:
    stop = boilerplate()
    counts = Counter(b for b in bigrams(text) if b not in stop)
    return " OR ".join(f'"{b}"' for b, _ in counts.most_common(QUERY_WORDS))


def jieba_query(text: str) -> str:
    words = query_words(text)
    return any_of(words).fts5 if words else ""


@dataclass
class System:
    name: str
    tokens: Callable[[str], list[str]]
    query: Callable[[str], str]


SYSTEMS = [
    System("jieba (product)", index_tokens, jieba_query),
    System("char-bigram baseline", bigrams, bigram_query),
]


class Index:
    """An in-memory FTS5 table of one system's tokens."""

    def __init__(self, system: System) -> None:
        self.system = system
        self.db = sqlite3.connect(":memory:")
        self.db.execute(
            "CREATE VIRTUAL TABLE t USING fts5(tokens, tokenize='unicode61 remove_diacritics 0')"
        )
        self.build_seconds = 0.0
        system.tokens("预热 warm-up")  # load jieba's dictionaries outside the timed build

    def add(self, rows: list[tuple[int, str]]) -> None:
        t0 = time.perf_counter()
        self.db.executemany(
            "INSERT INTO t(rowid, tokens) VALUES (?, ?)",
            ((rowid, " ".join(self.system.tokens(text))) for rowid, text in rows),
        )
        self.build_seconds += time.perf_counter() - t0

    def remove(self, rowids: list[int]) -> None:
        self.db.executemany("DELETE FROM t WHERE rowid = ?", ((r,) for r in rowids))

    def search(self, text: str, k: int) -> list[int]:
        expression = self.system.query(text)
        if not expression:
            return []
        return [
            r[0]
            for r in self.db.execute(
                "SELECT rowid FROM t WHERE t MATCH ? ORDER BY bm25(t), rowid LIMIT ?",
                (expression, k),
            )
        ]


def ndcg_at(ranked: list[int], relevant: set[int], k: int = 10) -> float:
    dcg = sum(1.0 / math.log2(i + 2) for i, doc in enumerate(ranked[:k]) if doc in relevant)
    ideal = sum(1.0 / math.log2(i + 2) for i in range(min(k, len(relevant))))
    return dcg / ideal if ideal else 0.0


def recall_at(ranked: list[int], relevant: set[int], k: int = 100) -> float:
    if not relevant:
        return 0.0
    return len(set(ranked[:k]) & relevant) / min(len(relevant), k)


def main_group(symbol: str) -> str:
    return symbol.split("/")[0]


def load_cnki(path: Path = CNKI) -> list[dict[str, Any]]:
    return [
        json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()
    ]


def evaluate(queries: int = 300, limit_docs: int | None = None, seed: int = 0) -> dict[str, Any]:
    gazette = read_gazette()
    if limit_docs:
        gazette = random.Random(seed).sample(gazette, limit_docs)
    groups: dict[str, set[int]] = defaultdict(set)
    for i, ex in enumerate(gazette):
        if ex.ipc:
            groups[main_group(ex.ipc[0])].add(i)
    eligible = [
        i for i, ex in enumerate(gazette) if ex.ipc and len(groups[main_group(ex.ipc[0])]) >= 6
    ]
    sample = random.Random(seed).sample(eligible, min(queries, len(eligible)))
    cnki = load_cnki()
    base = len(gazette)
    report: dict[str, Any] = {
        "documents": len(gazette) + len(cnki),
        "title_queries": len(sample),
        "self_retrieval_queries": 2 * len(cnki),
        "systems": {},
    }
    for system in SYSTEMS:
        index = Index(system)
        index.add([(i, ex.text) for i, ex in enumerate(gazette)])
        ndcg, recall = [], []
        for qi in sample:
            relevant = groups[main_group(gazette[qi].ipc[0])] - {qi}
            ranked = [d for d in index.search(gazette[qi].text, 101) if d != qi][:100]
            ndcg.append(ndcg_at(ranked, relevant))
            recall.append(recall_at(ranked, relevant))
        ranks: list[int | None] = []
        for indexed, asked in (("first_claim", "abstract"), ("abstract", "first_claim")):
            rowids = [base + j for j in range(len(cnki))]
            index.add([(base + j, f"{d['title']} {d[indexed]}") for j, d in enumerate(cnki)])
            for j, d in enumerate(cnki):
                ranked = index.search(d[asked], 100)
                ranks.append(ranked.index(base + j) + 1 if base + j in ranked else None)
            index.remove(rowids)
        found = [r for r in ranks if r is not None]
        report["systems"][system.name] = {
            "ndcg@10": round(sum(ndcg) / len(ndcg), 4),
            "recall@100": round(sum(recall) / len(recall), 4),
            "self_recall@1": round(sum(1 for r in found if r == 1) / len(ranks), 4),
            "self_recall@10": round(sum(1 for r in found if r <= 10) / len(ranks), 4),
            "self_mrr": round(sum(1 / r for r in found) / len(ranks), 4),
            "index_docs_per_s": round(len(gazette) / index.build_seconds)
            if index.build_seconds
            else None,
        }
    return report


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument(
        "--limit-docs", type=int, default=None, help="sample the gazette (quick runs)"
    )
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    t0 = time.perf_counter()
    report = evaluate(args.queries, args.limit_docs, args.seed)
    report["seconds"] = round(time.perf_counter() - t0, 1)
    print(json.dumps(report, ensure_ascii=False, indent=2))


if __name__ == "__main__":
    main()

"""The search evaluation: its metrics, and a quick run on a slice of the real gazette."""

from __future__ import annotations

import math

from warning.search.evaluate import bigrams, evaluate, ndcg_at, recall_at


def test_metrics() -> None:
    assert ndcg_at([1, 2, 3], {1, 2, 3}) == 1.0
    assert ndcg_at([9, 1], {1}) == 1 / math.log2(3)
    assert ndcg_at([9, 8], {1}) == 0.0
    assert recall_at(list(range(100)), set(range(50, 250))) == 0.5  # 50 of min(200, 100)
    assert recall_at([1], set()) == 0.0


def test_baseline_tokens_are_character_bigrams() -> None:
    assert bigrams("取向硅钢 Steel") == ["取向", "向硅", "硅钢", "steel"]


def test_quick_run_on_real_data_finds_documents_by_their_own_abstract_or_claim() -> None:
    report = evaluate(queries=40, limit_docs=1500)
    assert report["self_retrieval_queries"] == 66 and report["title_queries"] == 40
    product = report["systems"]["jieba (product)"]
    baseline = report["systems"]["char-bigram baseline"]
    assert product["self_recall@10"] >= 0.9
    for system in (product, baseline):
        assert 0.0 < system["ndcg@10"] <= 1.0 and 0.0 < system["recall@100"] <= 1.0

"""The Python API other areas call, and what the classifier loads (and does not) at start-up."""

from __future__ import annotations

import subprocess
import sys

import pytest

from models.api import classify_documents
from models.classifier import load_classifier
from warning.records import DocumentRecord


def test_classify_documents_accepts_records_and_dicts():
    record = DocumentRecord(
        office="CN",
        number="CN115212463A",
        kind="A",
        title="一种高炉炉顶布料装置",
        ipc=["C21B 7/20(2006.01)I"],
    )
    results = classify_documents([record, {"number": "US1", "title": "Polyurethane adhesive"}])
    assert [r["number"] for r in results] == ["CN115212463A", "US1"]
    assert set(results[0]["sectors"]) == {
        "steel",
        "equipment",
    }  # C21B is steel, C21B7/ equipment too
    assert {
        "sector": "equipment",
        "subfield": "metallurgical_equipment",
        "score": results[0]["scores"]["equipment"],
    } in results[0]["subfields"]
    assert results[1]["sectors"] == ["chemicals"]


def test_abstract_carries_signal_when_the_title_does_not():
    vague = {"number": "CN1A", "title": "一种装置及方法"}
    detailed = {
        **vague,
        "abstract": "本发明公开了一种锂离子电池正极材料的制备方法，提高电池循环寿命。",
    }
    plain, rich = classify_documents([vague, detailed], text_only=True)
    assert plain["sectors"] == ["other"]
    assert rich["sectors"] == ["optoelectronics"]


def test_scores_are_probabilities_that_follow_the_evidence():
    model = load_classifier()
    strong, weak = model.classify(
        [
            {"number": "A", "title": "一种冷轧取向硅钢板的脱碳退火方法"},
            {"number": "B", "title": "一种钢制品"},
        ],
        text_only=True,
    )
    assert strong.scores["steel"] > 0.9
    assert strong.scores["steel"] > weak.scores["steel"]


def test_importing_and_loading_does_not_load_jieba():
    code = (
        "import sys, models.cli, models.classifier as c; c.load_classifier(); "
        "print('jieba' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip().splitlines()[-1] == "False"


def test_domain_dictionary_keeps_technical_terms_whole():
    from models.segment import segment

    assert "取向硅钢" in segment("一种取向硅钢的冷轧方法")
    assert "球磨机" in segment("一种球磨机衬板")


def test_inference_features_equal_the_training_vectorizer():
    import numpy as np
    from sklearn.feature_extraction.text import TfidfVectorizer

    from models.artifact import ModelParams
    from models.classifier import Classifier
    from models.text import analyze

    corpus = ["一种取向硅钢的冷轧方法", "一种锂离子电池", "Rolling mill stand", "一种钢钢钢板", ""]
    vectorizer = TfidfVectorizer(analyzer=analyze, sublinear_tf=True, dtype=np.float32).fit(corpus)
    n, labels = len(vectorizer.idf_), ["steel", "other"]
    params = ModelParams(
        version="t",
        labels=labels,
        vocabulary=dict(vectorizer.vocabulary_),
        idf=vectorizer.idf_.astype(np.float32),
        coef=np.zeros((n, 2), np.float32),
        intercept=np.zeros(2),
        platt=np.zeros((2, 2)),
        thresholds=np.full(2, 0.5),
        fusion=np.zeros((2, 3)),
        fusion_thresholds=np.full(2, 0.5),
        metadata={},
    )
    texts = [*corpus, "一种未见过的文字 unseen words"]
    ours = Classifier(params).features(texts).toarray()
    theirs = vectorizer.transform(texts).toarray()
    np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-6)


def test_two_workers_give_the_same_results_in_the_same_order():
    model = load_classifier()
    records = _gazette_records(2500)
    assert model.classify(records, workers=2) == model.classify(records, workers=1)


def _gazette_records(n: int) -> list[dict]:
    from models.data import read_gazette

    return [e.record() for e in read_gazette()[:n]]


def _worker_pids(model) -> list[int]:
    return [process.pid for process, _ in model._pool._workers]


def test_parallel_workers_persist_across_batches_and_recover_from_a_killed_one():
    import os
    import signal

    model = load_classifier()
    records = _gazette_records(2500)
    expected = model.classify(records, workers=1)
    assert model.classify(records, workers=2) == expected
    first = _worker_pids(model)
    assert model.classify(records, workers=2) == expected
    assert _worker_pids(model) == first  # forked once, not per batch

    process = model._pool._workers[0][0]
    os.kill(process.pid, signal.SIGKILL)  # as the OOM killer would
    process.join(timeout=10)
    assert model.classify(records, workers=2) == expected
    assert _worker_pids(model) != first  # a dead worker is replaced


def test_a_worker_error_names_the_cause_and_the_next_batch_works():
    model = load_classifier()
    records = _gazette_records(2500)
    bad = [*records[:1], {"number": "X", "title": "一种钢", "ipc": 12345}, *records[1:]]
    with pytest.raises(RuntimeError, match="worker failed: TypeError"):
        model.classify(bad, workers=2)  # index 1: the worker's share
    assert model.classify(records, workers=2) == model.classify(records, workers=1)


def test_parallel_classification_accepts_document_records():
    model = load_classifier()
    records = [
        DocumentRecord(office="CN", number=r["number"], kind="A", title=r["title"], ipc=r["ipc"])
        for r in _gazette_records(2500)
    ]
    assert model.classify(records, workers=2) == model.classify(records, workers=1)


def test_english_subfield_keywords_match_whole_words_only():
    model = load_classifier()
    chinese, english = model.classify(
        [
            {"number": "A", "title": "一种LED灯的驱动芯片", "ipc": ["H05B45/00"]},
            {"number": "B", "title": "Controlled rectifier circuit", "ipc": ["H05K1/02"]},
        ],
        text_only=False,
    )
    assert "electronics" in {s["subfield"] for s in chinese.subfields}
    assert {s["subfield"] for s in english.subfields} == {"circuit_boards"}  # not "led" in it


def test_every_shipped_version_classifies_clear_titles_alike():
    """v1 (one column per label) and v2 stay loadable for rollback next to v3."""
    titles = {
        "一种冷轧取向硅钢板的脱碳退火方法": ["steel"],
        "一种锂离子电池正极材料": ["optoelectronics"],
        "一种聚氨酯胶粘剂及其制备方法": ["chemicals"],
        "一种儿童玩具车": ["other"],
    }
    records = [{"number": str(i), "title": t} for i, t in enumerate(titles)]
    for version in ("v1", "v2", "v3"):
        model = load_classifier(version=version)
        results = model.classify(records, text_only=True)
        assert [r.sectors for r in results] == list(titles.values()), version
        assert all(r.model_version == version for r in results)
        assert results[0].explanation["steel"]["terms"], version

"""`ipwarn model train|evaluate|list|activate`, training a tiny model on a fixture."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from models.artifact import DEFAULT_VERSION, PACKAGED_DIR, read_metadata
from models.data import TRAIN_BUCKETS, data_hash, iter_split, read_gazette
from tests.conftest import FIXTURES
from warning.cli import cli

FIXTURE = FIXTURES / "classifier"


@pytest.fixture
def config_file(settings, tmp_path):
    path = tmp_path / "ipwarn.toml"
    path.write_text(
        f'data_dir = "{settings.data_dir}"\nmodel_dir = "{tmp_path / "models"}"\n', encoding="utf-8"
    )
    return path


def _invoke(config_file, *args, stdin=None):
    return CliRunner().invoke(cli, ["--config", str(config_file), *args], input=stdin)


def test_train_writes_a_versioned_artifact_that_classifies(config_file, tmp_path):
    result = _invoke(config_file, "model", "train", "--data-dir", str(FIXTURE))
    assert result.exit_code == 0, result.output
    assert "macro-F1" in result.stdout and "trained v4" in result.stdout  # v1, v2 and v3 ship
    folder = tmp_path / "models" / "v4"
    meta = read_metadata(folder)
    assert meta["data_sha256"] == data_hash(FIXTURE)
    assert {"scikit-learn", "numpy", "jieba", "pyahocorasick"} <= set(meta["libraries"])
    assert meta["metrics"]["with_ipc"]["macro_f1"] > meta["metrics"]["text_only"]["macro_f1"] - 0.2
    # calibration and thresholds also saw every training-bucket gazette title, out of fold
    trained_titles = len(list(iter_split(read_gazette(FIXTURE), TRAIN_BUCKETS)))
    assert meta["examples"]["calibration"] == meta["examples"]["tune"] + trained_titles
    classified = _invoke(
        config_file,
        "classify",
        "--model",
        "v4",
        stdin=json.dumps({"number": "CN1A", "title": "一种钢板", "ipc": ["C21D8/02"]}),
    )
    assert classified.exit_code == 0, classified.output
    line = json.loads(classified.stdout)
    assert line["model_version"] == "v4" and line["sectors"] == ["steel"]

    listing = _invoke(config_file, "model", "list")
    assert listing.exit_code == 0
    rows = listing.stdout.splitlines()
    assert any(r.startswith(f"* {DEFAULT_VERSION}") for r in rows)  # the packaged default
    assert any(r.strip().startswith("v4") for r in rows)


def test_activate_then_list_marks_the_new_version(config_file, tmp_path):
    import shutil

    shutil.copytree(PACKAGED_DIR / "v1", tmp_path / "models" / "v7")
    assert _invoke(config_file, "db", "upgrade").exit_code == 0
    result = _invoke(config_file, "model", "activate", "v7")
    assert result.exit_code == 0, result.output
    assert "active classifier: v7" in result.stdout
    assert any(
        r.startswith("* v7") for r in _invoke(config_file, "model", "list").stdout.splitlines()
    )
    missing = _invoke(config_file, "model", "activate", "v99")
    assert missing.exit_code != 0


def test_evaluate_on_external_json_lines(config_file, tmp_path):
    data = tmp_path / "later.jsonl"
    rows = [
        {"number": "CN1A", "title": "一种取向硅钢的冷轧方法", "ipc": ["C21D8/12"]},
        {"number": "CN2A", "title": "一种锂离子电池正极材料", "ipc": ["H01M4/36"]},
        {"number": "CN3A", "title": "一种儿童玩具车", "ipc": ["A63H17/26"]},
    ]
    data.write_text(
        "\n".join(json.dumps(r, ensure_ascii=False) for r in rows) + "\n", encoding="utf-8"
    )
    result = _invoke(config_file, "model", "evaluate", "--data", str(data), "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["version"] == DEFAULT_VERSION
    assert report["with_ipc"]["documents"] == 3
    for label in ("steel", "optoelectronics", "other"):
        assert report["with_ipc"]["per_label"][label] == {
            "precision": 1.0,
            "recall": 1.0,
            "f1": 1.0,
            "support": 1,
        }
    assert report["text_only"]["per_label"]["steel"]["support"] == 1
    assert 0.0 <= report["text_only"]["ece"] <= 1.0
    table = _invoke(config_file, "model", "evaluate", "--data", str(data))
    assert "auto-tag threshold" in table.stdout and "ECE" in table.stdout


def test_evaluate_rejects_lines_without_ipc(config_file, tmp_path):
    data = tmp_path / "bad.jsonl"
    data.write_text('{"number": "CN1A", "title": "一种钢"}\n', encoding="utf-8")
    result = _invoke(config_file, "model", "evaluate", "--data", str(data))
    assert result.exit_code != 0
    assert f"{data}:1" in str(result.exception)


@pytest.mark.parametrize("version", ["v1", "v2", "v3"])
def test_shipped_artifact_matches_shipped_data(version):
    meta = read_metadata(PACKAGED_DIR / version)
    assert meta["data_sha256"] == data_hash(), (
        "models/data changed: re-train with `ipwarn model train`"
    )
    assert meta["metrics"]["with_ipc"]["macro_f1"] >= 0.97


def test_activate_on_a_fresh_sqlite_store_migrates_it_first(config_file):
    # issue 13.1: the embedded database migrates itself whatever command comes first
    # (PostgreSQL refuses with "run `ipwarn db upgrade`": tests/test_fresh_store.py)
    result = _invoke(config_file, "model", "activate", "v1")
    assert result.exit_code == 0, result.output
    assert "active classifier: v1" in result.output


def _store_documents(settings, count: int) -> list[str]:
    """``count`` crawled documents: titles with 鹦鹉螺纹饰 under a steel IPC, the rest of a
    made-up other kind; words the shipped data never had."""
    from warning.records import DocumentRecord
    from warning.store.engine import Store
    from warning.store.ingest import ingest_documents

    records = [
        DocumentRecord(
            office="CN",
            number=f"CN3{i:06d}A",
            kind="A",
            title=f"一种鹦鹉螺纹饰工艺品{i}" if i % 2 else f"一种琥珀蜂蜡手工皂{i}",
            ipc=["C21D1/00"] if i % 2 else ["A61K8/92"],
        )
        for i in range(count)
    ]
    store = Store(settings.effective_database_url)
    try:
        with store.write_session() as session:
            ingest_documents(session, records)
    finally:
        store.dispose()
    return [r.number for r in records]


def test_train_from_store_learns_what_the_installation_crawled(config_file, settings, tmp_path):
    from models.classifier import load_classifier
    from models.data import TEST_BUCKETS, Example

    assert _invoke(config_file, "db", "upgrade").exit_code == 0
    numbers = _store_documents(settings, 120)
    title = "一种鹦鹉螺纹饰工艺品"
    assert load_classifier().classify([{"number": "X", "title": title}])[0].sectors == ["other"]

    result = _invoke(config_file, "model", "train", "--data-dir", str(FIXTURE), "--from-store")
    assert result.exit_code == 0, result.output
    assert "held-out stored documents (120 stored in all)" in result.stdout
    folder = tmp_path / "models" / "v4"
    meta = read_metadata(folder)
    assert meta["store_documents"] == 120 and len(meta["store_sha256"]) == 64
    held_out = [n for n in numbers if Example(n, "", (), "store").bucket in TEST_BUCKETS]
    assert meta["metrics_store"]["text_only"]["documents"] == len(held_out)
    learnt = load_classifier(folder).classify([{"number": "X", "title": title}])[0]
    assert learnt.sectors == ["steel"]

    # evaluating that version on the store uses only the documents it did not learn from
    evaluated = _invoke(
        config_file, "model", "evaluate", "--version", "v4", "--from-store", "--json"
    )
    assert evaluated.exit_code == 0, evaluated.output
    assert json.loads(evaluated.stdout)["text_only"]["documents"] == len(held_out)


def test_train_from_a_fresh_sqlite_store_migrates_it_first(config_file):
    result = _invoke(config_file, "model", "train", "--data-dir", str(FIXTURE), "--from-store")
    assert result.exit_code == 0, result.output
    assert "trained v4" in result.output

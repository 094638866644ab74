"""The classify stage: tags untagged documents with the active version, idempotently."""

from __future__ import annotations

import shutil

from sqlalchemy import func, select

from models.artifact import DEFAULT_VERSION, PACKAGED_DIR
from models.registry import ACTIVE_KEY, active_version, set_active_version
from models.stage import run_classify_stage
from tests.conftest import settings_for
from warning.pipeline import StageContext
from warning.records import DocumentRecord
from warning.store.ingest import ensure_stub_document, ingest_document
from warning.store.models import AppState, DocumentTag

DOCS = [
    ("CN110000001A", "一种取向硅钢的制备方法", ["C21D 8/12(2006.01)I"]),
    ("CN110000002A", "一种锂离子电池正极材料", []),
    ("CN110000003U", "一种儿童玩具车", ["A63H17/26"]),
]


def _ingest(store):
    with store.session() as s:
        for number, title, ipc in DOCS:
            ingest_document(
                s, DocumentRecord(office="CN", number=number, kind=number[-1], title=title, ipc=ipc)
            )
        ensure_stub_document(s, "CN", "CN110000009A", "A", "file")


def _tags(store, version=DEFAULT_VERSION):
    with store.session() as s:
        rows = s.scalars(select(DocumentTag).where(DocumentTag.model_version == version)).all()
        return {(r.document.number, r.sector, r.subfield): (r.confidence, r.assigned) for r in rows}


def test_stage_tags_every_document_once(store, settings):
    _ingest(store)
    ctx = StageContext(settings=settings_for(store, settings), store=store)
    first = run_classify_stage(ctx)
    assert first.status == "ok"
    assert first.counts["documents"] == 3  # the stub has no text and is left alone
    tags = _tags(store)
    steel_doc = {k[1:]: v for k, v in tags.items() if k[0] == "CN110000001A"}
    sector_rows = {k[0] for k in steel_doc if k[1] == ""}
    assert sector_rows == {
        "steel",
        "equipment",
        "chemicals",
        "minerals",
        "optoelectronics",
        "other",
    }
    assert steel_doc[("steel", "")][1] is True and steel_doc[("steel", "")][0] >= 0.8
    assert steel_doc[("other", "")][1] is False
    assert steel_doc[("steel", "silicon_steel")] == (steel_doc[("steel", "")][0], True)
    assert tags[("CN110000002A", "optoelectronics", "")][1] is True
    assert tags[("CN110000003U", "other", "")][1] is True

    again = run_classify_stage(ctx)
    assert again.counts["documents"] == 0
    assert _tags(store) == tags


def test_limit_leaves_a_backlog_for_the_next_run(store, settings):
    _ingest(store)
    ctx = StageContext(
        settings=settings_for(store, settings),
        store=store,
        options={"classify_limit": 2, "classify_batch": 1},
    )
    first = run_classify_stage(ctx)
    assert first.counts["documents"] == 2
    assert "remain" in first.note
    second = run_classify_stage(ctx)
    assert second.counts["documents"] == 1
    assert "remain" not in second.note
    assert len({k[0] for k in _tags(store)}) == 3


def test_activating_a_new_version_retags_with_it(store, settings, tmp_path):
    model_dir = tmp_path / "models"
    shutil.copytree(PACKAGED_DIR / DEFAULT_VERSION, model_dir / "v9")
    cfg = settings_for(store, settings).model_copy(update={"model_dir": model_dir})
    _ingest(store)
    ctx = StageContext(settings=cfg, store=store)
    run_classify_stage(ctx)
    with store.session() as s:
        assert active_version(s) == DEFAULT_VERSION
        set_active_version(s, "v9", cfg)
    with store.session() as s:
        assert s.get(AppState, ACTIVE_KEY).value["version"] == "v9"
    result = run_classify_stage(ctx)
    assert result.counts["documents"] == 3
    assert "model v9" in result.note
    with store.session() as s:
        versions = dict(
            s.execute(
                select(DocumentTag.model_version, func.count()).group_by(DocumentTag.model_version)
            ).all()
        )
    assert set(versions) == {DEFAULT_VERSION, "v9"}
    assert versions[DEFAULT_VERSION] == versions["v9"]


def test_stored_documents_with_ipc_become_training_examples(store):
    from models.data import read_store_examples

    _ingest(store)
    with store.session() as s:
        ingest_document(
            s,
            DocumentRecord(
                office="CN",
                number="CN110000004A",
                kind="A",
                title="一种高炉布料装置",
                abstract="本发明涉及高炉炉顶布料。",
                ipc=["C21B7/20"],
            ),
        )
    with store.session() as s:
        examples = read_store_examples(s, exclude={"CN110000004A"})
        with_abstract = read_store_examples(s)
    # the IPC-less document and the stub carry no label; excluded numbers are left out
    assert [(e.number, e.ipc, e.origin) for e in examples] == [
        ("CN110000001A", ("C21D8/12",), "store"),
        ("CN110000003U", ("A63H17/26",), "store"),
    ]
    assert with_abstract[-1].text == "一种高炉布料装置 本发明涉及高炉炉顶布料。"

import datetime as dt

from models.registry import ACTIVE_KEY
from rules.storedocs import load_match_docs
from warning.records import DocumentRecord
from warning.store.ingest import ingest_document
from warning.store.models import AppState, DocumentTag

T0 = dt.datetime(2026, 11, 1, tzinfo=dt.UTC)


def _tag(doc_id, version, sector, confidence, when):
    return DocumentTag(
        document_id=doc_id,
        model_version=version,
        sector=sector,
        subfield="",
        confidence=confidence,
        assigned=True,
        created_at=when,
    )


def test_rules_read_the_active_versions_tags_and_fall_back_while_retagging(store):
    with store.session() as session:
        tagged = ingest_document(
            session, DocumentRecord(office="CN", number="CN1A", kind="A", title="硅钢")
        ).document_ids[0]
        pending = ingest_document(
            session, DocumentRecord(office="CN", number="CN2A", kind="A", title="电池")
        ).document_ids[0]
        session.add_all(
            [
                _tag(tagged, "v1", "steel", 0.9, T0),
                _tag(
                    tagged, "v2", "chemicals", 0.8, T0 + dt.timedelta(days=1)
                ),  # newer, not active
                _tag(pending, "v2", "optoelectronics", 0.7, T0 + dt.timedelta(days=1)),
            ]
        )
        session.add(AppState(key=ACTIVE_KEY, value={"version": "v1"}, updated_at=T0))
    with store.session() as session:
        docs = {d.number: d for d in load_match_docs(session, [tagged, pending])}
    assert docs["CN1A"].sectors == {"steel": 0.9}
    # v1 has not reached CN2A yet: its newest tags keep it matchable
    assert docs["CN2A"].sectors == {"optoelectronics": 0.7}

"""A screening's coverage (documents per source, publication date range) is kept between
screenings of one process, and is recomputed as soon as the documents change: a new document,
a changed one, a deleted one. Documents: real gazette rows (tests/search_support.py)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import delete, select

from tests.search_support import PUBLISHED, gazette_rows, ingest_gazette, record
from warning.search.index import index_pending
from warning.search.memo import memoised
from warning.search.screen import coverage, screen
from warning.store.engine import Store
from warning.store.ingest import ingest_document
from warning.store.models import Document


def _text() -> str:
    rows = gazette_rows(40)
    return "。".join(r["title"] for r in rows[10:14])


def test_coverage_follows_new_changed_and_deleted_documents(store: Store) -> None:
    ingest_gazette(store, 30)
    index_pending(store)
    first = screen(store, _text()).coverage
    assert first is not None and first.documents == 30
    assert first.sources == [("file", 30, PUBLISHED, PUBLISHED)]
    assert screen(store, _text()).coverage == first

    # a new crawl brings documents of another source
    rows = gazette_rows(40)
    with store.session() as session:
        for i in range(30, 35):
            rec = record(i, rows[i]).model_copy(
                update={"source": "cnipa_gazette", "publication_date": dt.date(2019, 7, 19)}
            )
            ingest_document(session, rec)
    second = screen(store, _text()).coverage
    assert second is not None and second.documents == 35
    assert ("cnipa_gazette", 5, dt.date(2019, 7, 19), dt.date(2019, 7, 19)) in second.sources

    # a stored document changes (a corrected publication date): same count, same highest id
    changed = record(0, rows[0]).model_copy(update={"publication_date": dt.date(2019, 1, 4)})
    with store.session() as session:
        ingest_document(session, changed)
    third = screen(store, _text()).coverage
    assert third is not None and third.documents == 35 and third.first == dt.date(2019, 1, 4)

    # a document removed from the store (not the newest one)
    with store.session() as session:
        doc_id = session.scalar(select(Document.id).where(Document.number == rows[3]["number"]))
        session.execute(delete(Document).where(Document.id == doc_id))
    fourth = screen(store, _text()).coverage
    assert fourth is not None and fourth.documents == 34


def test_coverage_is_computed_once_while_the_documents_stay_the_same(store: Store) -> None:
    ingest_gazette(store, 20)
    calls: list[int] = []

    def counted(session):  # type: ignore[no-untyped-def]
        calls.append(1)
        return coverage(session)

    for _ in range(3):
        with store.read_session() as session:
            assert memoised(store, session, "test-coverage", counted).documents == 20
    assert len(calls) == 1
    ingest_gazette(store, 21)  # one more row: the first 20 are unchanged
    with store.read_session() as session:
        assert memoised(store, session, "test-coverage", counted).documents == 21
    assert len(calls) == 2

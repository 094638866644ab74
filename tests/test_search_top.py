"""An unfiltered search on SQLite takes its best hits from FTS5 alone (no join with the
documents): the same hits, scores and totals as the full ranking, and never a document that is
gone. Documents: real gazette rows (tests/search_support.py)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import delete

from tests.search_support import PUBLISHED, ingest_gazette
from tests.test_search_index import QUERIES
from warning.search.index import index_pending
from warning.search.service import SearchFilters, search
from warning.store.engine import Store
from warning.store.models import Document

#: a filter every document passes: the query takes the joined, fully ranked path
EVERYTHING = SearchFilters(since=PUBLISHED - dt.timedelta(days=3650))


def _hits(store: Store, query: str, filters: SearchFilters | None = None) -> list[object]:
    result = search(store, query, filters, limit=25, today=dt.date(2026, 1, 1))
    return [(h.number, h.score, h.matched_terms) for h in result.hits] + [result.total]


def test_unfiltered_top_hits_equal_the_full_ranking(sqlite_store: Store) -> None:
    ingest_gazette(sqlite_store, 800)
    index_pending(sqlite_store)
    for query in [*QUERIES, "用于", "装置 OR 方法"]:
        fast, full = _hits(sqlite_store, query), _hits(sqlite_store, query, EVERYTHING)
        assert fast == full, query
        assert len(fast) > 1, f"{query} finds nothing: the comparison would prove nothing"


def test_a_deleted_document_is_neither_listed_nor_counted(sqlite_store: Store) -> None:
    ingest_gazette(sqlite_store, 200)
    index_pending(sqlite_store)
    before = search(sqlite_store, "装置", limit=5)
    gone = before.hits[0].number
    with sqlite_store.session() as session:
        session.execute(delete(Document).where(Document.number == gone))
    after = search(sqlite_store, "装置", limit=5)
    assert after.total == before.total - 1
    assert gone not in [h.number for h in after.hits]
    assert after.hits[0].number == before.hits[1].number

"""Relevance searches with many matches score cell by cell (warning.search.cells): the same
hits, order, scores and totals as ranking every match, with and without filters, on SQLite and
PostgreSQL; an index built before the cells existed is migrated to them. Documents: real
gazette rows (tests/search_support.py)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest
from sqlalchemy import select, text

from tests.conftest import _pg_store
from tests.search_support import ingest_gazette
from tests.test_search_index import QUERIES
from warning.search import service
from warning.search.cells import bound, cell_of
from warning.search.index import index_pending
from warning.search.service import SearchFilters, search
from warning.store import migrate
from warning.store.engine import Store
from warning.store.models import SearchIndexEntry

TODAY = dt.date(2026, 1, 1)
#: (filters, whether they keep every document out); the gazette rows are published 2019-07-12
FILTERS = [
    (None, False),
    (SearchFilters(kind="U"), False),
    (SearchFilters(since=dt.date(2019, 7, 12), kind="B"), False),  # the day itself is in
    (SearchFilters(until=dt.date(2019, 7, 12), office="CN", kind="U"), False),
    (SearchFilters(until=dt.date(2019, 7, 11)), True),  # the day before is out
    (SearchFilters(since=dt.date(2019, 7, 13)), True),
    (SearchFilters(office="US"), True),
    (SearchFilters(sector="steel"), False),  # needs the documents: joined
]
MANY = [
    *QUERIES,
    "用于",
    "装置 OR 方法",
    "一种 OR 结构 OR 电机",
    "(装置 OR 系统) NOT 控制",
    # NOTs whose terms can still be in a match: their scores count towards the bound
    "装置 NOT (电机 NOT 控制)",
    "一种 OR (装置 NOT 控制)",
    "装置 NOT (控制 系统)",
]


def _hits(store: Store, query: str, filters: SearchFilters | None, limit: int = 15) -> list[object]:
    result = search(store, query, filters, limit=limit, today=TODAY)
    return [(h.number, round(h.score, 9)) for h in result.hits] + [result.total]


def _both_ways(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    cut_short = 0
    totals: dict[str, int] = {}
    for filters, empty in FILTERS:
        for query in MANY:
            with monkeypatch.context() as m:
                m.setattr(service, "PRUNE_ABOVE", 10**9)  # one ranked query over every match
                m.setattr(service, "ROWID_FILTERS", False)  # filtered on the joined documents
                m.setattr(service, "POSTINGS", False)  # PostgreSQL: matched by the tsvector
                full = _hits(store, query, filters)
            for postings in (True, False):  # PostgreSQL: counted from search_postings or not
                with monkeypatch.context() as m:
                    m.setattr(service, "PRUNE_ABOVE", 0)  # cell by cell, however few the matches
                    m.setattr(service, "RARE_MATCHES", 30)
                    m.setattr(service, "POSTINGS", postings)
                    m.setattr(service, "POSTINGS_FIRST", 3)  # many small batches
                    cut = _hits(store, query, filters)
                assert cut == full, (query, filters, postings)
            if not store.is_sqlite:  # the postings' own total below PRUNE_ABOVE, scored whole
                assert _hits(store, query, filters) == full, (query, filters)
            if filters is None:
                assert full[-1] > 0, f"{query} finds nothing: the comparison proves nothing"
            totals[repr(filters)] = totals.get(repr(filters), 0) + full[-1]  # type: ignore[operator]
            if empty:
                assert full[-1] == 0, (query, filters)
            # more hits than PRUNE_LIMIT (screening's candidates): one ranked query, same hits
            more = service.PRUNE_LIMIT + 20
            with monkeypatch.context() as m:
                m.setattr(service, "ROWID_FILTERS", False)
                m.setattr(service, "PRUNE_LIMIT", 10**9)
                m.setattr(service, "PRUNE_ABOVE", 10**9)
                m.setattr(service, "POSTINGS", False)
                many = _hits(store, query, filters, limit=more)
            assert _hits(store, query, filters, limit=more) == many
            cut_short += int(full[-1] > 15)  # type: ignore[operator]
    assert cut_short >= 10, "too few queries with more matches than hits: nothing was cut"
    # the other filters let some documents through and keep others out
    everything = totals[repr(None)]
    for filters, empty in FILTERS[1:]:
        if not empty:
            assert 0 < totals[repr(filters)] < everything, filters


def test_cell_by_cell_equals_the_full_ranking_on_sqlite(
    sqlite_store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    ingest_gazette(sqlite_store, 800)
    index_pending(sqlite_store)
    _both_ways(sqlite_store, monkeypatch)


@pytest.fixture
def pg_store() -> Iterator[Store]:
    yield from _pg_store()


@pytest.mark.postgres
def test_cell_by_cell_equals_the_full_ranking_on_postgresql(
    pg_store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    ingest_gazette(pg_store, 800)
    index_pending(pg_store)
    _both_ways(pg_store, monkeypatch)


def test_only_terms_no_match_can_hold_are_left_out_of_the_bound() -> None:
    from warning.search.querybuild import compile_query

    def flags(query: str) -> list[bool]:
        return compile_query(query).positive

    assert flags("(a OR b) NOT c") == [True, True, False]
    assert flags("a NOT (b OR c)") == [True, False, False]
    assert flags("a (b NOT c)") == [True, True, False]
    # a match may hold c (when it holds a, or when it holds c beside b, or z beside y)
    assert flags("a OR (b NOT c)") == [True, True, True]
    assert flags("a NOT (b c)") == [True, True, True]
    assert flags("x NOT (y NOT z)") == [True, True, True]


def test_a_cell_bounds_every_score_in_it() -> None:
    # the bound of a (length, max_tf) cell is at least the BM25 term of any document in it
    for avgdl in (8.0, 900.0):
        for length in (1, 5, 9, 31, 700, 5000):
            for tf in range(1, min(length, 300) + 1, 7):
                norm = service.K1 * (1 - service.B + service.B * length / avgdl)
                for f in (1, tf):
                    term = f * (service.K1 + 1) / (f + norm)
                    assert term <= bound(cell_of(length, tf), avgdl)


def test_the_migration_fills_the_cells_of_an_existing_index(tmp_path) -> None:
    store = Store(f"sqlite:///{tmp_path / 'old.db'}")
    migrate.upgrade(store.engine, "0030_search")
    ingest_gazette(store, 300)
    with store.session() as session:  # the 0030 index stage's rows: no cells yet
        from warning.search.index import INDEXED_COLUMNS, index_rows

        docs = session.execute(select(*INDEXED_COLUMNS)).all()
        rows = index_rows(list(docs))
        for r in rows:
            session.execute(
                text(
                    "INSERT INTO search_index (document_id, tokens, length, content_hash, "
                    "tokenizer, indexed_at) VALUES (:document_id, :tokens, :length, "
                    ":content_hash, :tokenizer, :indexed_at)"
                ),
                r,
            )
    migrate.upgrade(store.engine)
    with store.session() as session:
        cells = dict(
            session.execute(select(SearchIndexEntry.document_id, SearchIndexEntry.cell)).all()
        )
        assert cells == {r["document_id"]: r["cell"] for r in rows}
        keys = dict(
            session.execute(select(SearchIndexEntry.document_id, SearchIndexEntry.fts_key)).all()
        )
        assert keys == {r["document_id"]: r["fts_key"] for r in rows}
    from warning.search.index import refresh_stats

    with store.session() as session:
        refresh_stats(session)
    migrated = {q: _hits(store, q, None) for q in MANY}
    fresh = Store(f"sqlite:///{tmp_path / 'new.db'}")
    migrate.upgrade(fresh.engine)
    ingest_gazette(fresh, 300)
    index_pending(fresh)
    assert {q: _hits(fresh, q, None) for q in MANY} == migrated
    assert migrated["用于"][-1] > 0

"""The index stage: new and changed documents only, idempotent, rebuildable; same search
results on SQLite (FTS5) and PostgreSQL (tsvector)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest
from sqlalchemy import func, select

from tests.conftest import _pg_store
from tests.search_support import gazette_rows, ingest_gazette, record
from warning.pipeline import STAGES, StageContext
from warning.search.index import index_pending, rebuild, run_index_stage
from warning.search.service import SearchFilters, search
from warning.store.engine import Store
from warning.store.ingest import ingest_document
from warning.store.models import SearchIndexEntry

QUERIES = [
    "钢筋",
    "装置 NOT 电机",
    "电机 OR 轧辊 OR 钢板",
    "一种 (结构 OR 方法) NOT 装置",
    '"控制 系统"',
    "控制系统",
    "电池",
    "有限公司 AND 钢",
]


def _numbers(store: Store, query: str, **kw: object) -> list[tuple[str, float]]:
    result = search(store, query, limit=30, **kw)  # type: ignore[arg-type]
    return [(h.number, round(h.score, 6)) for h in result.hits] + [("total", result.total)]


def test_index_stage_runs_after_classify() -> None:
    names = list(STAGES)
    assert names.index("index") == names.index("classify") + 1


def test_stage_indexes_new_and_changed_documents_only(store: Store, settings) -> None:
    ingest_gazette(store, 300)
    ctx = StageContext(settings=settings, store=store)
    first = run_index_stage(ctx)
    assert first.counts["indexed"] == first.counts["documents"] > 250
    with store.session() as session:
        stamps = dict(
            session.execute(select(SearchIndexEntry.document_id, SearchIndexEntry.indexed_at)).all()
        )
    again = run_index_stage(ctx)
    assert again.counts["indexed"] == 0
    with store.session() as session:
        assert (
            dict(
                session.execute(
                    select(SearchIndexEntry.document_id, SearchIndexEntry.indexed_at)
                ).all()
            )
            == stamps
        )
    assert search(store, "钢筋").total > 0
    # a changed document is re-indexed: its new words are found, its old ones no longer
    row = gazette_rows(300)[4]
    changed = record(4, row).model_copy(update={"title": "一种取向硅钢激光刻痕装置"})
    with store.session() as session:
        ingest_document(session, changed)
    third = index_pending(store)
    assert third.indexed == 1
    assert [h.number for h in search(store, "激光刻痕").hits] == [row["number"]]
    old_word = row["title"][-4:]
    assert row["number"] not in [h.number for h in search(store, f'"{old_word}"', limit=100).hits]


def test_rebuild_gives_the_same_results(store: Store) -> None:
    ingest_gazette(store, 300)
    index_pending(store)
    before = {q: _numbers(store, q) for q in QUERIES}
    counts = rebuild(store)
    assert counts.indexed == counts.documents
    with store.session() as session:
        assert (
            session.scalar(select(func.count()).select_from(SearchIndexEntry)) == counts.documents
        )
    assert {q: _numbers(store, q) for q in QUERIES} == before


@pytest.fixture
def pg_store() -> Iterator[Store]:
    yield from _pg_store()


@pytest.mark.postgres
def test_sqlite_and_postgresql_return_the_same_hits(sqlite_store: Store, pg_store: Store) -> None:
    for backend in (sqlite_store, pg_store):
        ingest_gazette(backend, 800)
        index_pending(backend)
    today = dt.date(2026, 1, 1)
    for query in QUERIES:
        lite = _numbers(sqlite_store, query, today=today)
        pg = _numbers(pg_store, query, today=today)
        assert lite == pg, query
        assert lite[-1][1] > 0, f"{query} finds nothing: the comparison would prove nothing"
    filters = SearchFilters(kind="U", since=dt.date(2019, 1, 1))
    assert _numbers(sqlite_store, "装置", filters=filters) == _numbers(
        pg_store, "装置", filters=filters
    )
    # single words with many matches (PostgreSQL: from its postings), with key filters
    cut = 0
    for query in ("用于", "装置 OR 方法", "(装置 OR 系统) NOT 控制", "一种 结构"):
        for f in (
            None,
            SearchFilters(kind="B"),
            SearchFilters(office="CN", until=dt.date(2019, 7, 12)),
        ):
            lite = _numbers(sqlite_store, query, filters=f, today=today)
            assert lite == _numbers(pg_store, query, filters=f, today=today), (query, f)
            assert lite[-1][1] > 0, (query, f)
            cut += int(lite[-1][1] > 30)  # type: ignore[operator]
    assert cut >= 6, "too few of them with more matches than hits"
    lite_dates = _numbers(sqlite_store, "装置", sort="date")
    assert lite_dates == _numbers(pg_store, "装置", sort="date")


def test_term_frequencies_follow_every_change(store: Store) -> None:
    from collections import Counter

    from warning.store.models import SearchTerm

    records = ingest_gazette(store, 120)
    index_pending(store)
    changed = records[7].model_copy(update={"title": "一种取向硅钢激光刻痕装置"})
    with store.session() as session:
        ingest_document(session, changed)
    index_pending(store)
    with store.session() as session:
        expected = Counter(
            t
            for tokens in session.scalars(select(SearchIndexEntry.tokens))
            for t in set(tokens.split())
        )
        stored = {
            t: n for t, n in session.execute(select(SearchTerm.term, SearchTerm.documents)) if n
        }
    assert stored == dict(expected)
    assert expected["刻痕"] == 1

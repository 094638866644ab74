"""PostgreSQL's search postings (migration 0044): one (term, cell, key) row per distinct token
of every index row, kept in step by a trigger with every new, changed, re-keyed and deleted
document and by a rebuild, and filled by the migration from an existing index; searches
counted from them find what the tsvector finds."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Iterator

import pytest
from sqlalchemy import delete, select, text, update

from tests.conftest import _pg_store
from tests.search_support import gazette_rows, ingest_gazette, record
from warning.search import service
from warning.search.cells import LENGTH_FLOORS, TF_BOUNDS, cell_of
from warning.search.index import index_pending, rebuild
from warning.search.service import SearchFilters, search
from warning.store import migrate
from warning.store.engine import Store
from warning.store.ingest import ingest_document
from warning.store.models import Document, SearchIndexEntry

pytestmark = pytest.mark.postgres
TODAY = dt.date(2026, 1, 1)


@pytest.fixture
def pg_store() -> Iterator[Store]:
    yield from _pg_store()


@pytest.fixture
def pg_empty() -> Iterator[Store]:
    yield from _pg_store(create=False)


def _postings(store: Store) -> set[tuple[str, int, int]]:
    with store.session() as session:
        return {
            (r[0], r[1], r[2])
            for r in session.execute(text("SELECT term, cell, key FROM search_postings"))
        }


def _expected(store: Store) -> set[tuple[str, int, int]]:
    """What the index rows say the postings are: each distinct token, the cell of the row's
    length and the token's count, and the row's key."""
    with store.session() as session:
        rows = session.execute(
            select(SearchIndexEntry.tokens, SearchIndexEntry.length, SearchIndexEntry.fts_key)
        ).all()
    out = set()
    for tokens, length, key in rows:
        for t, n in Counter(tokens.split(" ")).items():
            if t:
                out.add((t, cell_of(length, n), key))
    return out


def test_the_servers_cell_function_is_the_cells_module() -> None:
    """search_cell (created by the migration) files a posting as cells.cell_of does."""
    pairs = [(length, tf) for length in range(0, 13000, 7) for tf in (1, 2, 3, 5, 7, 16, 17, 300)]
    pairs += [(f, 1) for f in LENGTH_FLOORS] + [(f - 1, 1) for f in LENGTH_FLOORS if f]
    pairs += [(500, b) for b in TF_BOUNDS[:-1]] + [(500, b + 1) for b in TF_BOUNDS[:-1]]
    for store in _pg_store():
        with store.session() as session:
            got = session.execute(
                text(
                    "SELECT search_cell(l, t) FROM unnest(CAST(:l AS integer[]), "
                    "CAST(:t AS integer[])) AS u(l, t)"
                ),
                {"l": [p[0] for p in pairs], "t": [p[1] for p in pairs]},
            ).scalars()
            assert list(got) == [cell_of(length, tf) for length, tf in pairs]


def _result(store: Store, query: str, filters: SearchFilters | None = None) -> list[object]:
    result = search(store, query, filters, limit=20, today=TODAY)
    return [(h.number, round(h.score, 9)) for h in result.hits] + [result.total]


def _same_as_tsvector(store: Store, monkeypatch: pytest.MonkeyPatch, queries: list[str]) -> None:
    for query in queries:
        for filters in (None, SearchFilters(kind="U")):
            with monkeypatch.context() as m:
                m.setattr(service, "POSTINGS", False)
                expected = _result(store, query, filters)
            assert _result(store, query, filters) == expected, (query, filters)


def test_postings_follow_every_change_of_the_index(
    pg_store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    ingest_gazette(pg_store, 300)
    index_pending(pg_store)
    first = _postings(pg_store)
    assert first == _expected(pg_store)
    assert len(first) > 3000
    index_pending(pg_store)  # a re-run changes nothing
    assert _postings(pg_store) == first
    # a changed document: its new words are posted, its old ones withdrawn
    row = gazette_rows(300)[4]
    with pg_store.session() as session:
        ingest_document(
            session, record(4, row).model_copy(update={"title": "一种取向硅钢激光刻痕装置"})
        )
    assert index_pending(pg_store).indexed == 1
    assert _postings(pg_store) == _expected(pg_store) != first
    assert [h.number for h in search(pg_store, "激光刻痕", today=TODAY).hits] == [row["number"]]
    # a document whose key changes (another kind and date: filters read them from the key)
    with pg_store.session() as session:
        doc_id = session.scalar(select(Document.id).where(Document.number == row["number"]))
        session.execute(
            update(Document)
            .where(Document.id == doc_id)
            .values(kind="U", publication_date=dt.date(2020, 1, 1), content_hash="changed")
        )
    assert index_pending(pg_store).indexed == 1
    assert _postings(pg_store) == _expected(pg_store)
    hits = search(pg_store, "激光刻痕", SearchFilters(kind="U", since=dt.date(2019, 12, 1)))
    assert [h.number for h in hits.hits] == [row["number"]]
    assert search(pg_store, "激光刻痕", SearchFilters(kind="B")).total == 0
    # a deleted document leaves the postings with its index row
    with pg_store.session() as session:
        session.execute(delete(Document).where(Document.id == doc_id))
    assert _postings(pg_store) == _expected(pg_store)
    assert search(pg_store, "激光刻痕", today=TODAY).total == 0
    _same_as_tsvector(pg_store, monkeypatch, ["装置", "电机 OR 轧辊", "装置 NOT 电机", "一种 结构"])
    # a rebuild posts everything again
    before = _postings(pg_store)
    rebuild(pg_store)
    assert _postings(pg_store) == before == _expected(pg_store)


def test_the_migration_posts_an_existing_index(
    pg_empty: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    migrate.upgrade(pg_empty.engine, "0042_search2")
    ingest_gazette(pg_empty, 300)
    index_pending(pg_empty)  # the index stage before the postings existed
    migrate.upgrade(pg_empty.engine)
    posted = _postings(pg_empty)
    assert posted == _expected(pg_empty)
    assert len(posted) > 3000
    # the upgrade vacuumed and analysed the rewritten tables: no step left to the operator
    # (whether pages become all-visible depends on other sessions' snapshots, so not asserted)
    with pg_empty.read_session() as session:
        for table in ("search_postings", "search_index"):
            vacuumed, analysed = session.execute(
                text(
                    "SELECT last_vacuum, last_analyze FROM pg_stat_user_tables "
                    "WHERE relid = to_regclass(:t)"
                ),
                {"t": table},
            ).one()
            assert vacuumed is not None and analysed is not None, table
    _same_as_tsvector(
        pg_empty, monkeypatch, ["装置", "电机 OR 轧辊 OR 钢板", "(装置 OR 系统) NOT 控制"]
    )
    migrate.downgrade(pg_empty.engine, "0042_search2")
    with pg_empty.session() as session:
        assert session.scalar(text("SELECT to_regclass('search_postings')")) is None


def test_tokens_the_server_would_change_are_not_looked_up_in_the_postings(pg_store: Store) -> None:
    """The postings hold the tsvector's lexemes: a token 'simple' would fold or split is
    searched on the tsvector instead (as the query's own tsquery folds it)."""
    with pg_store.session() as session:
        assert service.posted_as_is(session, ["用于", "控制", "ue", "5g"])
        assert not service.posted_as_is(session, ["用于", "Ue"])
        assert not service.posted_as_is(session, ["a-b"])

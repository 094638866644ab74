"""The pipeline's index stage: (re-)index new and changed documents, idempotently.

A document needs indexing when it has no ``search_index`` row, or its row was built from
another version of the document (``content_hash``) or by another tokenizer. Each batch is one
transaction; a re-run finds nothing to do and changes nothing. On SQLite the FTS5 table follows
through triggers; on PostgreSQL the ``tsv`` column is set from the same tokens and a trigger
files its postings (``search_postings``, migration 0044). The corpus
statistics BM25 needs (documents, tokens) are kept in ``app_state`` and each term's document
frequency in ``search_terms``, so that PostgreSQL ranks exactly as SQLite's FTS5 does without
counting over the index, and screening can pick a text's rarest words.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, func, select, text, update
from sqlalchemy.orm import Session

from warning.pipeline import StageContext, StageResult
from warning.search.cells import cell_of, fts_key, max_tf
from warning.search.tokens import TOKENIZER_VERSION, document_text, index_tokens
from warning.store.engine import Store
from warning.store.migrate import vacuum_analyze
from warning.store.models import AppState, Document, SearchIndexEntry, SearchTerm, utcnow
from warning.store.upsert import dialect_insert

DEFAULT_BATCH = 1000
STATS_KEY = "search_index_stats"


@dataclass
class IndexCounts:
    indexed: int = 0
    documents: int = 0
    tokens: int = 0


def index_rows(docs: list[Any]) -> list[dict[str, Any]]:
    """``search_index`` rows for documents (rows with title, abstract, claims, applicants,
    content_hash, kind, office and publication_date)."""
    now = utcnow()
    rows = []
    for doc in docs:
        tokens = index_tokens(
            document_text(
                doc.title or "", doc.abstract or "", doc.claims or "", doc.applicants or []
            )
        )
        top = max_tf(tokens)
        cell = cell_of(len(tokens), top)
        rows.append(
            {
                "document_id": doc.id,
                "tokens": " ".join(tokens),
                "length": len(tokens),
                "max_tf": top,
                "cell": cell,
                "fts_key": fts_key(
                    cell,
                    doc.id,
                    kind=doc.kind,
                    office=doc.office,
                    published=doc.publication_date,
                ),
                "content_hash": doc.content_hash,
                "tokenizer": TOKENIZER_VERSION,
                "indexed_at": now,
            }
        )
    return rows


def _term_sets(tokens: str) -> set[str]:
    return set(tokens.split(" ")) - {""}


def add_term_counts(session: Session, delta: Counter[str]) -> None:
    """Add ``delta`` to the document frequencies in ``search_terms`` (upsert)."""
    changes = [{"term": t, "documents": n} for t, n in sorted(delta.items()) if n]
    if not changes:
        return
    stmt = dialect_insert(session, SearchTerm.__table__)
    stmt = stmt.on_conflict_do_update(
        index_elements=["term"],
        set_={"documents": SearchTerm.__table__.c.documents + stmt.excluded.documents},
    )
    for start in range(0, len(changes), 2000):
        session.execute(stmt, changes[start : start + 2000])


def write_rows(session: Session, rows: list[dict[str, Any]]) -> None:
    """Upsert index rows (SQLite's triggers update FTS5; PostgreSQL's tsv is set here) and
    move the document frequencies of their terms from the old rows to the new."""
    if not rows:
        return
    old = session.execute(
        select(SearchIndexEntry.document_id, SearchIndexEntry.tokens).where(
            SearchIndexEntry.document_id.in_([r["document_id"] for r in rows])
        )
    ).all()
    delta: Counter[str] = Counter()
    for entry in old:
        delta.subtract(_term_sets(entry.tokens))
    for new in rows:
        delta.update(_term_sets(new["tokens"]))
    add_term_counts(session, delta)
    stmt = dialect_insert(session, SearchIndexEntry.__table__)
    stmt = stmt.on_conflict_do_update(
        index_elements=["document_id"],
        set_={
            name: stmt.excluded[name]
            for name in (
                "tokens",
                "length",
                "max_tf",
                "cell",
                "fts_key",
                "content_hash",
                "tokenizer",
                "indexed_at",
            )
        },
    )
    session.execute(stmt, rows)
    if session.get_bind().dialect.name == "postgresql":
        session.execute(
            update(SearchIndexEntry)
            .where(SearchIndexEntry.document_id.in_([r["document_id"] for r in rows]))
            .values(tsv=func.to_tsvector(text("'simple'"), SearchIndexEntry.tokens))
        )


#: what an index row is made of (:func:`index_rows` reads these fields by name)
INDEXED_COLUMNS = (
    Document.id,
    Document.title,
    Document.abstract,
    Document.claims,
    Document.applicants,
    Document.content_hash,
    Document.kind,
    Document.office,
    Document.publication_date,
)


def _stale(after: int, batch: int) -> Any:
    entry = SearchIndexEntry
    return (
        select(*INDEXED_COLUMNS)
        .outerjoin(entry, entry.document_id == Document.id)
        .where(
            Document.is_stub.is_(False),
            Document.id > after,
            (entry.document_id.is_(None))
            | (entry.content_hash != Document.content_hash)
            | (entry.tokenizer != TOKENIZER_VERSION),
        )
        .order_by(Document.id)
        .limit(batch)
    )


def refresh_stats(session: Session) -> dict[str, int]:
    documents, tokens = session.execute(
        select(func.count(), func.coalesce(func.sum(SearchIndexEntry.length), 0))
    ).one()
    value = {"documents": int(documents), "tokens": int(tokens)}
    stmt = dialect_insert(session, AppState.__table__).values(
        key=STATS_KEY, value=value, updated_at=utcnow()
    )
    session.execute(
        stmt.on_conflict_do_update(
            index_elements=["key"], set_={"value": stmt.excluded.value, "updated_at": utcnow()}
        )
    )
    return value


def index_stats(session: Session) -> dict[str, int]:
    """Documents and tokens in the index, as of the last index run."""
    row = session.get(AppState, STATS_KEY)
    if row is None:
        return refresh_stats(session)
    return {"documents": int(row.value["documents"]), "tokens": int(row.value["tokens"])}


def index_pending(
    store: Store, *, batch: int = DEFAULT_BATCH, limit: int | None = None
) -> IndexCounts:
    """Index every new or changed document (at most ``limit``), one transaction per batch."""
    counts = IndexCounts()
    last = 0
    while limit is None or counts.indexed < limit:
        size = batch if limit is None else min(batch, limit - counts.indexed)
        with store.session() as session:
            docs = session.execute(_stale(last, size)).all()
            if not docs:
                break
            write_rows(session, index_rows(list(docs)))
            last = docs[-1].id
            counts.indexed += len(docs)
    with store.session() as session:
        if counts.indexed or session.get(AppState, STATS_KEY) is None:
            stats = refresh_stats(session)
        else:
            stats = index_stats(session)
    counts.documents, counts.tokens = stats["documents"], stats["tokens"]
    return counts


def term_frequencies(session: Session, terms: list[str]) -> dict[str, int]:
    """Document frequency of each term (0 when no indexed document has it)."""
    out = dict.fromkeys(terms, 0)
    for start in range(0, len(terms), 500):
        chunk = terms[start : start + 500]
        for row in session.execute(
            select(SearchTerm.term, SearchTerm.documents).where(SearchTerm.term.in_(chunk))
        ):
            out[row.term] = int(row.documents)
    return out


def rebuild(store: Store, *, batch: int = DEFAULT_BATCH) -> IndexCounts:
    """Drop every index row and index the whole store again (after a dictionary change)."""
    with store.session() as session:
        if not store.is_sqlite:
            # the postings (migration 0044) go in one statement, not row by row by the trigger
            session.execute(text("DELETE FROM search_postings"))
            session.execute(text("ALTER TABLE search_index DISABLE TRIGGER search_index_postings"))
        session.execute(delete(SearchIndexEntry))
        if not store.is_sqlite:
            session.execute(text("ALTER TABLE search_index ENABLE TRIGGER search_index_postings"))
        session.execute(delete(SearchTerm))
        if store.is_sqlite:
            session.execute(text("INSERT INTO search_fts(search_fts) VALUES ('rebuild')"))
    counts = index_pending(store, batch=batch)
    if store.is_sqlite:
        with store.session() as session:
            session.execute(text("INSERT INTO search_fts(search_fts) VALUES ('optimize')"))
    else:
        vacuum_analyze(store.engine)
    return counts


def run_index_stage(ctx: StageContext) -> StageResult:
    batch = int(ctx.options.get("index_batch", DEFAULT_BATCH))
    counts = index_pending(ctx.store, batch=batch)
    return StageResult(
        status="ok",
        counts={"indexed": counts.indexed, "documents": counts.documents},
        note=f"search index holds {counts.documents} documents",
    )

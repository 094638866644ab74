"""Search: boolean retrieval in the database, BM25 ranking, hits with legal status.

SQLite ranks with FTS5's own ``bm25()``; PostgreSQL retrieves with the GIN-indexed tsvector
and ranks here with the same BM25 formula (k1 = 1.2, b = 0.75, FTS5's IDF) over the same
tokens and corpus statistics, so both backends return the same hits in the same order (a test
checks it). Ties are broken by document id; scores are compared at 1e-9.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Float,
    Numeric,
    Text,
    and_,
    case,
    cast,
    column,
    exists,
    func,
    literal,
    literal_column,
    or_,
    select,
    table,
    text,
    true,
)
from sqlalchemy.orm import Session

from rules.docview import MatchDoc
from rules.query import evaluate, fold_text
from rules.storedocs import load_match_docs
from warning.applicants import normalize_applicant
from warning.errors import EmptyStore, InputError, Problem
from warning.legal_status import STATUSES, LegalStatus
from warning.search.index import index_stats, term_frequencies
from warning.search.querybuild import CompiledQuery, compile_query
from warning.search.statuses import load_statuses
from warning.store.engine import Store
from warning.store.models import (
    Applicant,
    Document,
    DocumentApplicant,
    DocumentTag,
    SearchIndexEntry,
)
from warning.taxonomy import load_taxonomy

K1 = 1.2
B = 0.75
OFFICES = ("CN", "US", "EP")
KINDS = ("A", "B", "U", "S")
SORTS = ("relevance", "date")

_FTS = table("search_fts", column("rowid"))
_DOCUMENT_FILTERS = ("sector", "subfield", "ipc", "applicant", "office", "kind", "since", "until")


@dataclass
class SearchFilters:
    sector: str | None = None
    subfield: str | None = None
    ipc: str | None = None
    applicant: str | None = None
    office: str | None = None
    kind: str | None = None
    since: dt.date | None = None
    until: dt.date | None = None
    status: str | None = None

    @property
    def narrow(self) -> bool:
        """Whether a filter on the documents' columns applies (legal status is applied later)."""
        return any(getattr(self, name) is not None for name in _DOCUMENT_FILTERS)

    def check(self) -> None:
        """Unknown filter values are input errors naming the option."""
        problems = []
        taxonomy = load_taxonomy()
        if self.sector and self.sector not in taxonomy.sector_ids:
            problems.append(
                Problem(
                    f"unknown sector {self.sector!r}; one of {', '.join(taxonomy.sector_ids)}",
                    field="sector",
                )
            )
        if self.subfield:
            known = {sf.qualified for sf in taxonomy.subfields} | {
                sf.id for sf in taxonomy.subfields
            }
            if self.subfield not in known:
                problems.append(Problem(f"unknown subfield {self.subfield!r}", field="subfield"))
        if self.office and self.office.upper() not in OFFICES:
            problems.append(Problem(f"office must be one of {', '.join(OFFICES)}", field="office"))
        if self.kind and self.kind.upper() not in KINDS:
            problems.append(Problem(f"kind must be one of {', '.join(KINDS)}", field="kind"))
        if self.status and self.status not in STATUSES:
            problems.append(Problem(f"status must be one of {', '.join(STATUSES)}", field="status"))
        if self.since and self.until and self.since > self.until:
            problems.append(Problem("since is after until", field="since"))
        if problems:
            raise InputError(problems)


@dataclass
class Hit:
    document_id: int
    number: str
    title: str
    applicants: list[str]
    ipc: list[str]
    sectors: list[str]
    publication_date: dt.date | None
    legal_status: LegalStatus
    score: float
    matched_terms: list[str]
    abstract: str = ""
    claims: str = ""
    #: the matcher's view of the document (screening hands it to the similarity screen)
    doc: MatchDoc | None = field(default=None, repr=False, compare=False)

    def as_json(self) -> dict[str, Any]:
        return {
            "number": self.number,
            "title": self.title,
            "applicants": self.applicants,
            "ipc": self.ipc,
            "sectors": self.sectors,
            "publication_date": self.publication_date.isoformat()
            if self.publication_date
            else None,
            "legal_status": self.legal_status.as_json(),
            "score": round(self.score, 4),
            "matched_terms": self.matched_terms,
        }


@dataclass
class SearchResult:
    query: str
    total: int
    hits: list[Hit] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return {"total": self.total, "hits": [h.as_json() for h in self.hits]}


def ensure_searchable(session: Session) -> dict[str, int]:
    """The index statistics, or :class:`EmptyStore` saying how to fill the store or index."""
    stats = index_stats(session)
    if stats["documents"]:
        return stats
    documents = session.scalar(select(func.count()).where(Document.is_stub.is_(False)))
    if documents:
        raise EmptyStore(
            f"the search index is empty but the store holds {documents} documents: "
            "run `ipwarn search-index update` (or `ipwarn run --once`)"
        )
    raise EmptyStore(
        "the store holds no documents yet: crawl the configured sources with `ipwarn run --once` "
        "(or `ipwarn crawl SOURCE`), then search again"
    )


def filter_conditions(session: Session, filters: SearchFilters) -> list[ColumnElement[bool]]:
    """SQL conditions on ``documents`` for the filters (legal status is filtered afterwards)."""
    conds: list[ColumnElement[bool]] = [Document.is_stub.is_(False)]
    taxonomy = load_taxonomy()
    if filters.sector:
        sector = taxonomy.sector(filters.sector)
        tagged = exists().where(
            DocumentTag.document_id == Document.id,
            DocumentTag.sector == sector.id,
            DocumentTag.subfield == "",
            DocumentTag.assigned.is_(True),
        )
        untagged = ~exists().where(DocumentTag.document_id == Document.id)
        by_ipc = or_(*(cast(Document.ipc, Text).like(f'%"{p}%') for p in sector.ipc))
        conds.append(or_(tagged, and_(untagged, by_ipc)))
    if filters.subfield:
        name = filters.subfield
        matches = [sf for sf in taxonomy.subfields if name in (sf.qualified, sf.id)]
        conds.append(
            exists().where(
                DocumentTag.document_id == Document.id,
                DocumentTag.assigned.is_(True),
                or_(
                    *(
                        and_(
                            DocumentTag.sector == sf.sector,
                            DocumentTag.subfield.in_([sf.id, sf.qualified]),
                        )
                        for sf in matches
                    )
                ),
            )
        )
    if filters.ipc:
        prefix = "".join(filters.ipc.split()).upper()
        conds.append(cast(Document.ipc, Text).like(f'%"{prefix}%'))
    if filters.applicant:
        key = normalize_applicant(filters.applicant) or fold_text(filters.applicant)
        conds.append(
            exists()
            .where(DocumentApplicant.document_id == Document.id)
            .where(Applicant.id == DocumentApplicant.applicant_id)
            .where(Applicant.normalized.like(f"%{key}%"))
        )
    if filters.office:
        conds.append(Document.office == filters.office.upper())
    if filters.kind:
        conds.append(Document.kind.like(f"{filters.kind.upper()}%"))
    if filters.since:
        conds.append(Document.publication_date >= filters.since)
    if filters.until:
        conds.append(Document.publication_date <= filters.until)
    return conds


def phrase_count(tokens: list[str], phrase: tuple[str, ...]) -> int:
    if len(phrase) == 1:
        return tokens.count(phrase[0])
    n = len(phrase)
    first = phrase[0]
    return sum(
        1 for i, tok in enumerate(tokens) if tok == first and tuple(tokens[i : i + n]) == phrase
    )


def bm25(
    tokens: list[str], phrases: list[tuple[str, ...]], idf: list[float], avgdl: float
) -> float:
    """FTS5's bm25() for one row (positive: higher is better)."""
    norm = K1 * (1 - B + B * len(tokens) / avgdl)
    score = 0.0
    for phrase, weight in zip(phrases, idf, strict=True):
        freq = phrase_count(tokens, phrase)
        score += weight * ((freq * (K1 + 1.0)) / (freq + norm))
    return score


def idf_of(n_rows: int, n_hit: int) -> float:
    value = math.log((n_rows - n_hit + 0.5) / (n_hit + 0.5))
    return value if value > 0.0 else 1e-6


def _rank_sqlite(
    session: Session, q: CompiledQuery, conds: list[Any], sort: str, limit: int | None
) -> tuple[int, list[tuple[int, float]]]:
    # one pass over the matches: bm25() is computed in a materialised CTE (FTS5 refuses it
    # under a window function), the total rides along as count(*) OVER ()
    matches = (
        select(
            Document.id.label("id"),
            literal_column("bm25(search_fts)").label("bm25"),
            Document.publication_date.label("published"),
        )
        .select_from(_FTS.join(Document, Document.id == _FTS.c.rowid))
        .where(text("search_fts MATCH :q"), *conds)
        .cte("matches")
        .prefix_with("MATERIALIZED")
    )
    ranked = select(matches.c.id, matches.c.bm25, func.count().over().label("total"))
    if sort == "date":
        ranked = ranked.order_by(matches.c.published.desc().nulls_last(), matches.c.id.desc())
    else:
        ranked = ranked.order_by(func.round(matches.c.bm25, 9), matches.c.id)
    if limit is not None:
        ranked = ranked.limit(limit)
    rows = session.execute(ranked, {"q": q.fts5}).all()
    return (int(rows[0][2]) if rows else 0), [(row[0], -float(row[1])) for row in rows]


def _top_sqlite(
    session: Session, q: CompiledQuery, limit: int
) -> tuple[int, list[tuple[int, float]]]:
    """The best ``limit`` matches of an unfiltered query, without the documents table: every
    index row has its document, never a stub (the stage indexes none, a document never becomes
    one again, deleting one cascades to its row, whose trigger removes it from FTS5), so the
    join is needed only to filter or to sort by date. SQLite keeps only the best
    ``limit`` rows while it scores, and FTS5 counts the matches from its doclists without
    scoring them: a word in 60,000 documents answers in a quarter of the time."""
    fts = text("search_fts MATCH :q")
    score = literal_column("bm25(search_fts)", Float)
    top = (
        select(_FTS.c.rowid, score.label("bm25"))
        .where(fts)
        .order_by(func.round(score, 9), _FTS.c.rowid)
        .limit(limit)
    )
    rows = session.execute(top, {"q": q.fts5}).all()
    total = session.scalar(select(func.count()).select_from(_FTS).where(fts), {"q": q.fts5})
    return int(total or 0), [(row[0], -float(row[1])) for row in rows]


def _rank_postgres(
    session: Session,
    q: CompiledQuery,
    conds: list[Any],
    sort: str,
    limit: int | None,
    stats: dict[str, int],
) -> tuple[int, list[tuple[int, float]]]:
    entry = SearchIndexEntry
    n_rows = max(1, stats["documents"])
    avgdl = max(1, stats["tokens"]) / n_rows
    df = term_frequencies(session, sorted({p[0] for p in q.phrases if len(p) == 1}))
    idf = []
    for phrase in q.phrases:
        if len(phrase) == 1:
            n_hit = df[phrase[0]]
        else:
            tsq = " <-> ".join(f"'{t}'" for t in phrase)
            n_hit = int(
                session.scalar(
                    select(func.count()).where(entry.tsv.op("@@")(func.to_tsquery("simple", tsq)))
                )
                or 0
            )
        idf.append(idf_of(n_rows, n_hit))
    if all(len(p) == 1 for p in q.phrases):
        return _rank_postgres_sql(session, q, conds, sort, limit, idf, avgdl)
    rows = session.execute(
        select(entry.document_id, entry.tokens, Document.publication_date)
        .join(Document, Document.id == entry.document_id)
        .where(entry.tsv.op("@@")(func.to_tsquery("simple", q.tsquery)), *conds)
    ).all()
    scored = [
        (row.document_id, bm25(row.tokens.split(" "), q.phrases, idf, avgdl), row.publication_date)
        for row in rows
    ]
    if sort == "date":
        scored.sort(key=lambda r: (r[2] or dt.date.min, r[0]), reverse=True)
    else:
        scored.sort(key=lambda r: (-round(r[1], 9), r[0]))
    ranked = [(doc_id, score) for doc_id, score, _ in scored]
    return len(ranked), ranked if limit is None else ranked[:limit]


def _rank_postgres_sql(
    session: Session,
    q: CompiledQuery,
    conds: list[Any],
    sort: str,
    limit: int | None,
    idf: list[float],
    avgdl: float,
) -> tuple[int, list[tuple[int, float]]]:
    """The same BM25 computed by the server when every phrase is one token: a term's frequency
    is the number of its positions in the tsvector (``unnest``), the length is stored."""
    entry = SearchIndexEntry
    lexemes = func.unnest(entry.tsv).table_valued("lexeme", "positions", "weights").alias("u")
    tf = (
        select(
            *(
                func.coalesce(
                    func.sum(
                        case(
                            (lexemes.c.lexeme == p[0], func.cardinality(lexemes.c.positions)),
                            else_=0,
                        )
                    ),
                    0,
                ).label(f"f{i}")
                for i, p in enumerate(q.phrases)
            )
        )
        .select_from(lexemes)
        .lateral("tf")
    )
    norm = K1 * (1 - B + B * cast(entry.length, Float) / avgdl)
    score = sum(
        (
            literal(weight, Float) * (tf.c[f"f{i}"] * (K1 + 1.0)) / (tf.c[f"f{i}"] + norm)
            for i, weight in enumerate(idf)
        ),
        start=literal(0.0, Float),
    )
    stmt = (
        select(entry.document_id, score.label("score"), func.count().over().label("total"))
        .select_from(
            entry.__table__.join(Document.__table__, Document.id == entry.document_id).join(
                tf, true()
            )
        )
        .where(entry.tsv.op("@@")(func.to_tsquery("simple", q.tsquery)), *conds)
    )
    if sort == "date":
        stmt = stmt.order_by(
            Document.publication_date.desc().nulls_last(), entry.document_id.desc()
        )
    else:
        stmt = stmt.order_by(func.round(cast(score, Numeric), 9).desc(), entry.document_id)
    if limit is not None:
        stmt = stmt.limit(limit)
    rows = session.execute(stmt).all()
    return (int(rows[0][2]) if rows else 0), [(row[0], float(row[1])) for row in rows]


def rank(
    store: Store,
    session: Session,
    q: CompiledQuery,
    filters: SearchFilters,
    *,
    sort: str = "relevance",
    limit: int | None = None,
) -> tuple[int, list[tuple[int, float]]]:
    """(total matches, [(document id, BM25 score)] in order, at most ``limit``)."""
    stats = ensure_searchable(session)
    if store.is_sqlite and sort == "relevance" and limit is not None and not filters.narrow:
        return _top_sqlite(session, q, limit)
    conds = filter_conditions(session, filters)
    if store.is_sqlite:
        return _rank_sqlite(session, q, conds, sort, limit)
    return _rank_postgres(session, q, conds, sort, limit, stats)


def build_hits(
    session: Session,
    ranked: list[tuple[int, float]],
    q: CompiledQuery | None,
    statuses: dict[int, LegalStatus],
) -> list[Hit]:
    docs: dict[int, MatchDoc] = {
        md.id: md for md in load_match_docs(session, [i for i, _ in ranked]) if md.id is not None
    }
    hits = []
    for doc_id, score in ranked:
        md = docs[doc_id]
        found: list[str] = []
        if q is not None:
            evaluate(q.node, md.text + " " + fold_text(" ".join(md.applicants)), found)
        hits.append(
            Hit(
                document_id=doc_id,
                number=md.number,
                title=md.title,
                applicants=md.applicants,
                ipc=md.ipc,
                sectors=[s for s, _ in sorted(md.sectors.items(), key=lambda kv: -kv[1])],
                publication_date=md.publication_date,
                legal_status=statuses[doc_id],
                score=score,
                matched_terms=found,
                abstract=md.abstract,
                claims=md.claims,
                doc=md,
            )
        )
    return hits


def search(
    store: Store,
    query: str,
    filters: SearchFilters | None = None,
    *,
    limit: int = 20,
    sort: str = "relevance",
    today: dt.date | None = None,
) -> SearchResult:
    """Ranked hits for a rules-syntax query (raises QuerySyntaxError, InputError, EmptyStore)."""
    filters = filters or SearchFilters()
    filters.check()
    if sort not in SORTS:
        raise InputError([Problem(f"sort must be one of {', '.join(SORTS)}", field="sort")])
    if limit < 1:
        raise InputError([Problem("limit must be at least 1", field="limit")])
    q = compile_query(query)
    today = today or dt.date.today()
    with store.read_session() as session:
        total, ranked = rank(
            store, session, q, filters, sort=sort, limit=None if filters.status else limit
        )
        if filters.status:
            statuses = load_statuses(session, [i for i, _ in ranked], today)
            ranked = [r for r in ranked if statuses[r[0]].status == filters.status]
            total = len(ranked)
            ranked = ranked[:limit]
        else:
            statuses = load_statuses(session, [i for i, _ in ranked], today)
        return SearchResult(query=query, total=total, hits=build_hits(session, ranked, q, statuses))

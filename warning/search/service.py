"""Search: boolean retrieval in the database, BM25 ranking, hits with legal status.

SQLite ranks with FTS5's own ``bm25()``; PostgreSQL retrieves with the GIN-indexed tsvector
and ranks here with the same BM25 formula (k1 = 1.2, b = 0.75, FTS5's IDF) over the same
tokens and corpus statistics, so both backends return the same hits in the same order (a test
checks it). Ties are broken by document id; scores are compared at 1e-9. A relevance search
with many matches scores only the score cells that can still reach its top hits
(:mod:`warning.search.cells`, :func:`_pruned`): exactly the same hits, scores and totals.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import (
    ARRAY,
    ColumnElement,
    Float,
    Integer,
    Numeric,
    Text,
    and_,
    bindparam,
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
from rules.query import And, Node, Not, Or, Term, evaluate, fold_text
from rules.storedocs import load_match_docs
from warning.applicants import normalize_applicant
from warning.errors import EmptyStore, InputError, Problem
from warning.legal_status import STATUSES, LegalStatus
from warning.search import cells
from warning.search.index import index_stats, term_frequencies
from warning.search.querybuild import CompiledQuery, compile_query
from warning.search.statuses import load_statuses
from warning.search.tokens import words
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
        .select_from(_FTS.join(Document, Document.id == _FTS.c.rowid.op("&")(cells.ID_MASK)))
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


#: queries with more matches than this take their top hits cell by cell (warning.search.cells)
PRUNE_ABOVE = 2000
#: ... and ask for at most this many hits (screening's 300 candidates of 16 rare words gain
#: nothing from it: a single ranked query is faster)
PRUNE_LIMIT = 100
#: at most this many documents holding a rare phrase are scored in full before the cells
RARE_MATCHES = 4000

#: (cells, None) or (None, rare phrases) -> the best ``limit`` [(document id, score)] among
#: the matches in those cells / holding one of those phrases
Fetch = Any


def _merge(
    a: list[tuple[int, float]], b: list[tuple[int, float]], limit: int
) -> list[tuple[int, float]]:
    seen: dict[int, float] = dict(a)
    seen.update(b)
    return sorted(seen.items(), key=lambda r: (-round(r[1], 9), r[0]))[:limit]


def rare_phrases(q: CompiledQuery, n_hits: list[int]) -> list[int]:
    """The positive phrases of lowest document frequency, together in at most RARE_MATCHES
    documents (their indexes in ``q.phrases``)."""
    rare: list[int] = []
    budget = 0
    for i in sorted(range(len(q.phrases)), key=lambda i: n_hits[i]):
        if q.positive[i] and budget + n_hits[i] <= RARE_MATCHES:
            rare.append(i)
            budget += n_hits[i]
    return rare


def _pruned(
    q: CompiledQuery,
    fetch: Fetch,
    n_hits: list[int],
    idf: list[float],
    avgdl: float,
    estimate: dict[int, float],
    limit: int,
    *,
    rare: list[int] | None = None,
    first: float = 100.0,
    jump: bool = False,
    growth: float = 2.0,
) -> list[tuple[int, float]]:
    """The best ``limit`` matches, scoring only what can still reach them.

    Phrases are split by document frequency: the matches holding any *rare* phrase (together
    at most RARE_MATCHES documents) are scored in full; every other match holds only common
    phrases, so its score is at most ``sum(idf of the common positive phrases) * bound(cell)``.
    Cells are scored from the highest bound down, in batches of growing size (``first``
    expected matches, doubling), until the k-th best score found exceeds the bound of every
    remaining cell; with ``jump``, once k hits are found the next batch is every cell that can
    still reach them (SQLite, where each batch walks the whole match again)."""
    if rare is None:
        rare = rare_phrases(q, n_hits)
    best: list[tuple[int, float]] = []
    if rare:
        best = fetch(None, [q.phrases[i] for i in rare])
    weight = sum(idf[i] for i in range(len(q.phrases)) if q.positive[i] and i not in rare)
    if weight <= 0:
        return best
    bounds = {c: weight * cells.bound(c, avgdl) for c in cells.all_cells()}
    remaining = sorted(bounds, key=lambda c: (-bounds[c], c))
    want = first
    kth = -math.inf
    while remaining:
        if len(best) >= limit:
            kth = best[limit - 1][1] - 1e-9
            if bounds[remaining[0]] < kth:
                break  # no cell left can reach the k-th best: the rest is never scored
        chunk: list[int] = []
        found = 0.0
        for c in remaining:
            if bounds[c] < kth or (found >= want and chunk and not (jump and kth > -math.inf)):
                break
            chunk.append(c)
            found += estimate.get(c, 0.0)
        want *= growth
        remaining = remaining[len(chunk) :]
        best = _merge(best, fetch(chunk, None), limit)
    return best


def _varint(buf: bytes, pos: int) -> tuple[int, int]:
    value = 0
    for i in range(8):
        byte = buf[pos + i]
        value = (value << 7) | (byte & 0x7F)
        if byte < 0x80:
            return value, pos + i + 1
    return (value << 8) | buf[pos + 8], pos + 9


def _fts_averages(session: Session) -> tuple[int, float]:
    """FTS5's own row count and average length (its averages record): what bm25() uses."""
    block = session.scalar(text("SELECT block FROM search_fts_data WHERE id = 1"))
    if not block:
        return 0, 1.0
    n_rows, pos = _varint(bytes(block), 0)
    n_tokens, _ = _varint(bytes(block), pos)
    return n_rows, (n_tokens / n_rows if n_rows else 1.0)


def _fts_phrase(phrase: tuple[str, ...]) -> str:
    return '"' + " ".join(phrase) + '"'


SQLITE_BATCHES: dict[str, Any] = {"first": 80.0, "jump": True}

#: filters on the FTS5 rowid alone (warning.search.cells.fts_key) rather than a join
ROWID_FILTERS = True


def rowid_conditions(filters: SearchFilters, rowid: Any = None) -> list[Any] | None:
    """The filters as conditions on the FTS5 rowid (or another column holding
    :func:`cells.fts_key`), or None when one needs the documents (sector, subfield, IPC,
    applicant, or a date outside the rowid's range)."""
    if not ROWID_FILTERS or any(
        getattr(filters, name) is not None for name in ("sector", "subfield", "ipc", "applicant")
    ):
        return None
    if rowid is None:
        rowid = _FTS.c.rowid
    conds: list[Any] = []
    if filters.kind:
        code = cells.KIND_CODES[filters.kind.upper()]
        conds.append(rowid.op(">>")(cells.KIND_SHIFT).op("&")(7) == code)
    if filters.office:
        code = cells.OFFICE_CODES[filters.office.upper()]
        conds.append(rowid.op(">>")(cells.OFFICE_SHIFT).op("&")(3) == code)
    for day in (filters.since, filters.until):
        if day is not None and not cells.day_in_range(day):
            return None
    if filters.since or filters.until:
        # FTS5 takes rowid ranges itself: the day is in the highest bits
        low = cells.day_code(filters.since) if filters.since else 1
        conds.append(rowid >= low << cells.DAY_SHIFT)
    if filters.until:
        conds.append(rowid < (cells.day_code(filters.until) + 1) << cells.DAY_SHIFT)
    return conds


def _top_fts(
    session: Session, q: CompiledQuery, source: Any, conds: list[Any], doc_id: Any, limit: int
) -> list[tuple[int, float]]:
    """The best ``limit`` matches in one ranked query (SQLite keeps only them while scoring)."""
    score = literal_column("bm25(search_fts)", Float)
    stmt = (
        select(doc_id.label("id"), score.label("bm25"))
        .select_from(source)
        .where(text("search_fts MATCH :q"), *conds)
        .order_by(func.round(score, 9), literal_column("id"))
        .limit(limit)
    )
    return [(row[0], -float(row[1])) for row in session.execute(stmt, {"q": q.fts5})]


def _rank_sqlite_pruned(
    session: Session,
    q: CompiledQuery,
    filters: SearchFilters,
    conds: list[ColumnElement[bool]],
    limit: int,
) -> tuple[int, list[tuple[int, float]]]:
    """Relevance top ``limit`` on SQLite: small match sets in one ranked query, large ones cell
    by cell (the cell is in the FTS5 rowid, so other cells' rows are skipped before bm25()).

    Without filters the documents table is not joined: every index row has its document, never
    a stub (the stage indexes none, a document never becomes one again, deleting one cascades
    to its row, whose trigger removes it from FTS5). The total is FTS5's count of the match
    (from its doclists, without scoring), joined with the documents only to filter: ``conds``
    (:func:`filter_conditions`) when the filters cannot be read off the rowid."""
    fts = text("search_fts MATCH :q")
    doc_id = _FTS.c.rowid.op("&")(cells.ID_MASK)
    source: Any = _FTS
    on_rowid = rowid_conditions(filters) if filters.narrow else []
    if on_rowid is None:  # a filter needs the documents
        source = _FTS.join(Document, Document.id == doc_id)
    else:
        conds = on_rowid
    in_cell = _FTS.c.rowid.op(">>")(cells.ID_BITS).op("&")(cells.CELL_MASK)
    score = literal_column("bm25(search_fts)", Float)
    if limit > PRUNE_LIMIT:
        total = session.scalar(
            select(func.count()).select_from(source).where(fts, *conds), {"q": q.fts5}
        )
        return int(total or 0), _top_fts(session, q, source, conds, doc_id, limit)
    per_cell = {
        int(c): float(n)
        for c, n in session.execute(
            select(in_cell, func.count()).select_from(source).where(fts, *conds).group_by(in_cell),
            {"q": q.fts5},
        )
    }
    total = int(sum(per_cell.values()))

    def fetch(
        in_cells: list[int] | None, rare: list[tuple[str, ...]] | None
    ) -> list[tuple[int, float]]:
        stmt = (
            select(doc_id.label("id"), score.label("bm25")).select_from(source).where(fts, *conds)
        )
        params: dict[str, Any] = {"q": q.fts5}
        if in_cells is not None:
            stmt = stmt.where(in_cell.in_(in_cells))
        if rare is not None:
            ids: Any = select(literal_column("value")).select_from(func.json_each(bindparam("ids")))
            stmt = stmt.where((_FTS.c.rowid + 0).in_(ids))
            params["ids"] = (
                "["
                + ",".join(
                    str(r)
                    for r in session.scalars(
                        select(_FTS.c.rowid).where(text("search_fts MATCH :r")),
                        {"r": " OR ".join(_fts_phrase(p) for p in rare)},
                    )
                )
                + "]"
            )
        stmt = stmt.order_by(func.round(score, 9), literal_column("id")).limit(limit)
        return [(row[0], -float(row[1])) for row in session.execute(stmt, params)]

    if total <= PRUNE_ABOVE:
        return total, fetch(None, None)
    n_rows, avgdl = _fts_averages(session)
    n_hits = [
        int(
            session.scalar(
                select(func.count()).select_from(_FTS).where(text("search_fts MATCH :p")),
                {"p": _fts_phrase(p)},
            )
            or 0
        )
        for p in q.phrases
    ]
    idf = [idf_of(n_rows, n) for n in n_hits]
    return total, _pruned(q, fetch, n_hits, idf, avgdl, per_cell, limit, **SQLITE_BATCHES)


def _rank_postgres(
    session: Session,
    q: CompiledQuery,
    conds: list[Any],
    sort: str,
    limit: int | None,
    stats: dict[str, int],
    filters: SearchFilters | None = None,
) -> tuple[int, list[tuple[int, float]]]:
    entry = SearchIndexEntry
    n_rows = max(1, stats["documents"])
    avgdl = max(1, stats["tokens"]) / n_rows
    df = term_frequencies(session, sorted({p[0] for p in q.phrases if len(p) == 1}))
    idf, n_hits = [], []
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
        n_hits.append(n_hit)
    if sort == "relevance" and limit is not None and limit <= PRUNE_LIMIT:
        key_conds = (
            rowid_conditions(filters or SearchFilters(), _POSTINGS.c.key)
            if POSTINGS and all(len(p) == 1 for p in q.phrases)
            else None
        )
        if key_conds is not None and posted_as_is(session, [p[0] for p in q.phrases]):
            return _rank_postgres_postings(session, q, key_conds, limit, idf, avgdl)
        return _rank_postgres_pruned(session, q, conds, limit, idf, n_hits, avgdl)
    return _rank_postgres_full(
        session, q, conds, sort, limit, idf, avgdl, joined=bool(conds) or sort == "date"
    )


def _tsquery(phrases: list[tuple[str, ...]]) -> Any:
    any_of = " | ".join("(" + " <-> ".join(f"'{t}'" for t in p) + ")" for p in phrases)
    return func.to_tsquery("simple", any_of)


def _rank_postgres_pruned(
    session: Session,
    q: CompiledQuery,
    conds: list[Any],
    limit: int,
    idf: list[float],
    n_hits: list[int],
    avgdl: float,
) -> tuple[int, list[tuple[int, float]]]:
    """Relevance top ``limit`` on PostgreSQL: one pass over the matches reads each one's id
    and cell (and whether it holds a rare phrase), which gives the exact total; then only the
    matches of the cells that can reach the top are scored, by id."""
    entry = SearchIndexEntry
    source: Any = entry.__table__
    if conds:
        source = source.join(Document.__table__, Document.id == entry.document_id)
    rare = rare_phrases(q, n_hits)
    has_rare: Any = _tsquery([q.phrases[i] for i in rare]) if rare else None
    flag: Any = entry.tsv.op("@@")(has_rare) if has_rare is not None else literal(False)
    # grouped by the server, the ids as one text array per cell: a row per match would cost
    # more in the driver than the scan itself
    groups = session.execute(
        select(entry.cell, flag, func.count(), cast(func.array_agg(entry.document_id), Text))
        .select_from(source)
        .where(entry.tsv.op("@@")(func.to_tsquery("simple", q.tsquery)), *conds)
        .group_by(entry.cell, flag)
    ).all()
    total = sum(int(g[2]) for g in groups)
    rare_ids: list[int] = []
    by_cell: dict[int, list[int]] = {}
    for cell, is_rare, _, ids_text in groups:
        ids = [int(i) for i in ids_text[1:-1].split(",")]
        if is_rare:
            rare_ids.extend(ids)
        else:
            by_cell.setdefault(int(cell), []).extend(ids)
    if total <= PRUNE_ABOVE:
        return total, _score_ids(
            session, q, rare_ids + [i for ids in by_cell.values() for i in ids], limit, idf, avgdl
        )

    def fetch(
        in_cells: list[int] | None, phrases: list[tuple[str, ...]] | None
    ) -> list[tuple[int, float]]:
        ids = rare_ids if in_cells is None else [i for c in in_cells for i in by_cell.get(c, [])]
        return _score_ids(session, q, ids, limit, idf, avgdl)

    estimate = {c: float(len(ids)) for c, ids in by_cell.items()}
    return total, _pruned(q, fetch, n_hits, idf, avgdl, estimate, limit, rare=rare)


#: PostgreSQL: queries of single words (with no filter or kind, office and date filters only)
#: are counted and listed per cell from ``search_postings`` (migration 0044)
POSTINGS = True
_POSTINGS = table("search_postings", column("term"), column("cell"), column("key"))
#: ... and score their matches in batches of this many, then doubling
POSTINGS_FIRST = 100
#: ... from the highest bound down when they have more matches than this (else all at once)
POSTINGS_PRUNE_ABOVE = 200


def posted_as_is(session: Session, terms: list[str]) -> bool:
    """Whether PostgreSQL's 'simple' configuration keeps each token as it is (one lexeme, the
    same text): the postings hold the tsvector's lexemes, the query has the tokens."""
    odd = session.scalar(
        text(
            "SELECT count(*) FROM unnest(CAST(:terms AS text[])) AS t "
            "WHERE tsvector_to_array(to_tsvector('simple', t)) IS DISTINCT FROM ARRAY[t]"
        ),
        {"terms": terms},
    )
    return not odd


def _posting_match(node: Node, sets: dict[str, set[str]]) -> set[str]:
    """The ids of the documents matching ``node`` among ``sets`` (term -> ids of the documents
    holding it; every term of the query is one token)."""
    if isinstance(node, Term):
        return sets.get(words(node.text)[0], set())
    if isinstance(node, Or):
        out: set[str] = set()
        for child in node.children:
            out |= _posting_match(child, sets)
        return out
    assert isinstance(node, And)
    positive = [_posting_match(c, sets) for c in node.children if not isinstance(c, Not)]
    found = set.intersection(*sorted(positive, key=len))
    for child in node.children:
        if isinstance(child, Not) and found:
            found = found - _posting_match(child.child, sets)
    return found


def _rank_postgres_postings(
    session: Session,
    q: CompiledQuery,
    key_conds: list[Any],
    limit: int,
    idf: list[float],
    avgdl: float,
) -> tuple[int, list[tuple[int, float]]]:
    """Relevance top ``limit`` on PostgreSQL for a query of single words, from index-only
    scans of ``search_postings``: each word's documents (their ids) grouped by the cell
    of the document's length and *that word's* count. The query's AND, OR and NOT over those
    sets give the matches and the exact total without reading ``search_index``; a match's
    score is at most the sum over the query's positive words it holds of ``idf *
    bound(cell)`` (tight: the word's own count, not the document's largest). Matches are
    scored by id from the highest bound down in growing batches until the k-th best score
    found beats every bound left: exactly the hits of scoring every match."""
    p = _POSTINGS.c
    terms = sorted({phrase[0] for phrase in q.phrases})
    doc_id = p.key.op("&")(cells.ID_MASK)
    posted: dict[str, list[tuple[int, list[str]]]] = {t: [] for t in terms}
    for term, cell, ids in session.execute(
        select(p.term, p.cell, func.string_agg(cast(doc_id, Text), literal(",")))
        .where(p.term == func.any(literal(terms, ARRAY(Text))), *key_conds)
        .group_by(p.term, p.cell)
    ):
        posted[term].append((int(cell), ids.split(",")))
    single = isinstance(q.node, Term)  # one word: its postings are the matches
    sets: dict[str, set[str]] = {}
    matched: set[str] = set()
    if single:
        total = sum(len(ids) for _, ids in posted[terms[0]])
    else:
        sets = {t: set().union(*(ids for _, ids in groups)) for t, groups in posted.items()}
        matched = _posting_match(q.node, sets)
        total = len(matched)
    if total <= min(PRUNE_ABOVE, POSTINGS_PRUNE_ABOVE):
        every = matched if not single else [i for _, ids in posted[terms[0]] for i in ids]
        return total, _score_ids(session, q, [int(i) for i in every], limit, idf, avgdl)
    # a match's bound: the sum over the positive words it holds of idf * bound(their cell)
    weights: dict[str, float] = {}
    for n, phrase in enumerate(q.phrases):
        if q.positive[n]:  # a word twice counts twice
            weights[phrase[0]] = weights.get(phrase[0], 0.0) + idf[n]
    # documents holding two or more of the words are summed one by one (few); the others
    # take their one word's cell bound, cell list by cell list (filtered when scored)
    multi: set[str] = set()
    held = [sets[t] for t in weights] if not single else []
    for m in range(len(held)):
        for n in range(m + 1, len(held)):
            multi |= held[m] & held[n]
    upper = dict.fromkeys(multi, 0.0)
    groups: dict[float, list[tuple[list[str], bool]]] = {}
    for term, weight in weights.items():
        for cell, ids in posted[term]:
            b = weight * cells.bound(cell, avgdl)
            if multi:
                for i in multi.intersection(ids):
                    upper[i] += b
            groups.setdefault(b, []).append((ids, False))
    summed: dict[float, list[str]] = {}
    for i, b in upper.items():
        summed.setdefault(b, []).append(i)
    for b, ids in summed.items():
        groups.setdefault(b, []).append((ids, True))
    if not single:
        unbounded = matched.difference(*held)  # (none: a match holds a positive word) last
        if unbounded:
            groups.setdefault(0.0, []).append((list(unbounded), True))

    def members(ids: list[str], exact: bool) -> list[int]:
        if single:
            return [int(i) for i in ids]
        return [int(i) for i in ids if i in matched and (exact or i not in multi)]

    best: list[tuple[int, float]] = []
    order = sorted(groups, reverse=True)
    want = POSTINGS_FIRST
    at = 0
    while at < len(order):
        kth = best[limit - 1][1] - 1e-9 if len(best) >= limit else -math.inf
        if order[at] < kth:
            break  # no match left can reach the k-th best: the rest is never scored
        chunk: list[int] = []
        while at < len(order) and order[at] >= kth and (len(chunk) < want or not chunk):
            for ids, exact in groups[order[at]]:
                chunk.extend(members(ids, exact))
            at += 1
        want *= 2
        best = _merge(best, _score_ids(session, q, chunk, limit, idf, avgdl), limit)
    return total, best


def _score_ids(
    session: Session,
    q: CompiledQuery,
    ids: list[int],
    limit: int,
    idf: list[float],
    avgdl: float,
) -> list[tuple[int, float]]:
    """The best ``limit`` of these matching documents, scored."""
    if not ids:
        return []
    entry = SearchIndexEntry
    by_id = [entry.document_id == func.any(literal(ids, ARRAY(Integer)))]
    return _rank_postgres_full(session, q, by_id, "relevance", limit, idf, avgdl, joined=False)[1]


def _rank_postgres_full(
    session: Session,
    q: CompiledQuery,
    conds: list[Any],
    sort: str,
    limit: int | None,
    idf: list[float],
    avgdl: float,
    *,
    joined: bool,
) -> tuple[int, list[tuple[int, float]]]:
    """Every match of ``conds`` scored (by the server when every phrase is one token, else
    here). The documents are joined only to filter or to sort by date (``joined``): every
    index row has its document, never a stub (see _rank_sqlite_pruned)."""
    entry = SearchIndexEntry
    if all(len(p) == 1 for p in q.phrases):
        return _rank_postgres_sql(session, q, conds, sort, limit, idf, avgdl, joined)
    found = select(entry.document_id, entry.tokens)
    if joined:
        found = found.add_columns(Document.publication_date).join(
            Document, Document.id == entry.document_id
        )
    else:
        found = found.add_columns(literal(None).label("publication_date"))
    rows = session.execute(
        found.where(entry.tsv.op("@@")(func.to_tsquery("simple", q.tsquery)), *conds)
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
    joined: bool,
) -> tuple[int, list[tuple[int, float]]]:
    """The same BM25 computed by the server when every phrase is one token: a term's frequency
    is the number of its positions in the tsvector (``unnest``), the length is stored. The
    documents are joined only to filter or to sort by date (``joined``)."""
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
    source = entry.__table__
    if joined:
        source = source.join(Document.__table__, Document.id == entry.document_id)
    stmt = (
        select(entry.document_id, score.label("score"), func.count().over().label("total"))
        .select_from(source.join(tf, true()))
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
    conds = filter_conditions(session, filters)
    if store.is_sqlite:
        if sort == "relevance" and limit is not None:
            return _rank_sqlite_pruned(session, q, filters, conds, limit)
        return _rank_sqlite(session, q, conds, sort, limit)
    # JIT compilation costs 50-100 ms per query on this plan shape and never pays back
    session.execute(text("SET LOCAL jit = off"))
    return _rank_postgres(
        session, q, conds if filters.narrow or sort == "date" else [], sort, limit, stats, filters
    )


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

"""On-demand screening: the stored documents most similar to a product description, a draft
claim or a stored patent, split into "in force or pending: review" and "lapsed, expired or
invalidated: free to use".

Candidates come from the index (BM25 over an OR of the text's words), then the rules'
similarity screen (:class:`rules.similarity.SimilarityScreen`, TF-IDF cosine over title,
abstract and claims) scores them, so a screening score means what an alert's similarity score
means. With the threshold at 0 every candidate sharing at least two words is listed; each
carries the percentile of random background pairs below its score. Screening, not a legal
opinion.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from rules import similarity
from rules.docview import MatchDoc
from warning.errors import InputError, Problem
from warning.records import split_number
from warning.search.index import term_frequencies
from warning.search.memo import memoised
from warning.search.querybuild import any_of
from warning.search.service import Hit, SearchFilters, build_hits, ensure_searchable, rank
from warning.search.statuses import load_statuses
from warning.search.tokens import index_tokens
from warning.store.engine import Store
from warning.store.models import Document, utcnow

#: content words taken from the text (its most frequent ones)
QUERY_WORDS = 48
#: of which the candidate query uses the rarest in the index
CANDIDATE_WORDS = 16
#: candidates taken from the index before the similarity screen
CANDIDATES = 300
MAX_TEXT = 20_000


@dataclass
class ScreenHit:
    hit: Hit
    similarity: float
    overlap_terms: list[str]
    #: share of random background pairs less similar than this one (0..100)
    percentile: float

    def as_json(self) -> dict[str, Any]:
        return self.hit.as_json() | {
            "similarity": round(self.similarity, 4),
            "overlap_terms": self.overlap_terms,
        }


@dataclass(frozen=True)
class Coverage:
    documents: int
    #: (source, documents, first publication date, last publication date)
    sources: list[tuple[str, int, dt.date | None, dt.date | None]]

    @property
    def first(self) -> dt.date | None:
        dates = [s[2] for s in self.sources if s[2]]
        return min(dates) if dates else None

    @property
    def last(self) -> dt.date | None:
        dates = [s[3] for s in self.sources if s[3]]
        return max(dates) if dates else None


@dataclass
class ScreenResult:
    query: str
    #: what was screened: "text", "file NAME" or "patent NUMBER"
    subject: str
    review: list[ScreenHit] = field(default_factory=list)
    free_to_use: list[ScreenHit] = field(default_factory=list)
    coverage: Coverage | None = None
    screened_at: dt.datetime = field(default_factory=utcnow)
    #: the bureau's date of the screening: legal status is judged as of this day
    screened_on: dt.date = field(default_factory=dt.date.today)
    candidates: int = 0

    def as_json(self) -> dict[str, Any]:
        return {
            "query": self.query,
            "review": [h.as_json() for h in self.review],
            "free_to_use": [h.as_json() for h in self.free_to_use],
        }


def coverage(session: Session) -> Coverage:
    rows = session.execute(
        select(
            Document.source,
            func.count(),
            func.min(Document.publication_date),
            func.max(Document.publication_date),
        )
        .where(Document.is_stub.is_(False))
        .group_by(Document.source)
        .order_by(Document.source)
    ).all()
    sources = [(r[0], int(r[1]), r[2], r[3]) for r in rows]
    return Coverage(documents=sum(s[1] for s in sources), sources=sources)


#: what a publication number is made of once blanks are removed (CN102373366B, US10,123,456B2,
#: ZL201510012345.6): anything else is refused before it reaches a LIKE pattern or the server
PATENT_NUMBER = re.compile(r"[A-Z0-9][A-Z0-9.,/-]*")


def patent_text(session: Session, number: str) -> tuple[int, str]:
    """(document id, title + abstract + claims) of a stored patent, or an InputError."""
    key = "".join(unicodedata.normalize("NFKC", number).split()).upper()
    if not PATENT_NUMBER.fullmatch(key):
        raise InputError(
            [Problem(f"{number!r} is not a patent number", field="patent")],
            hint="Give a publication number such as CN102373366B, US10123456B2 or EP1234567A1.",
        )
    base = split_number(key)[1]
    rows = session.execute(
        select(Document.id, Document.number, Document.title, Document.abstract, Document.claims)
        .where(Document.number.like(f"%{base}%"), Document.is_stub.is_(False))
        .order_by(Document.id)
    ).all()
    exact = [r for r in rows if r.number == key] or [
        r for r in rows if split_number(r.number)[1] == base
    ]
    if not exact:
        raise InputError(
            [
                Problem(
                    f"{number} is not in the store (no stored document has that number)",
                    field="patent",
                )
            ],
            hint="Check the number (e.g. CN102373366B), or crawl its source first.",
        )
    row = exact[0]
    return row.id, " ".join(filter(None, (row.title, row.abstract, row.claims)))


def boilerplate() -> frozenset[str]:
    """The similarity screen's words that say nothing about the technology (一种, 方法, ...)."""
    words = getattr(similarity, "STOPWORDS", None)
    if words is None:  # the calibrated screen keeps them in rules.termweights
        import importlib

        words = importlib.import_module("rules.termweights").generic_words()
    return frozenset(words)


def query_words(text: str) -> list[str]:
    """The text's most frequent content words (Chinese words and characters, English words of
    two letters or more, digits and boilerplate left out), sub-words of long words included."""
    stop = boilerplate()
    counts = Counter(
        w
        for w in index_tokens(text)
        if (len(w) >= 2 or w >= "\u3400") and w not in stop and not w.isdigit()
    )
    return [w for w, _ in counts.most_common(QUERY_WORDS)]


def similarity_scores(
    text: str, docs: list[MatchDoc]
) -> list[tuple[float, list[str], float] | None]:
    """(score, overlapping terms, percentile) of each document against ``text``, from the rules'
    similarity screen with ``text`` as its one profile and the alert threshold lowered to the
    least similar random pair, so every candidate with shared evidence is ranked; None where
    the screen finds no shared evidence. Works with the screen's profile-list API (calibrated
    thresholds) and with its older dict-of-texts API."""
    profile = getattr(similarity, "Profile", None)
    screen_cls: Any = similarity.SimilarityScreen
    if profile is not None:
        # a free text (a draft claim, several titles) names no one product: no head-concept gate
        screener = screen_cls(
            [profile("query", "query", text)],
            false_alerts_per_week=float(10**12),
            floor=0.0,
            require_head=False,
        )
        found = screener.screen(docs)
    else:
        screener = screen_cls({"query": [("query", text)]}, percentile=0.0, floor=0.0)
        found = screener.screen([" ".join((d.title, d.abstract, d.claims)) for d in docs])
    return [
        (f["query"].score, list(f["query"].overlapping_terms), f["query"].percentile)
        if "query" in f
        else None
        for f in found
    ]


def screen(
    store: Store,
    text: str,
    *,
    subject: str = "text",
    sector: str | None = None,
    ipc: str | None = None,
    limit: int = 20,
    exclude: int | None = None,
    today: dt.date | None = None,
) -> ScreenResult:
    if not text.strip():
        raise InputError([Problem("the text to screen is empty", field="text")])
    if limit < 1:
        raise InputError([Problem("limit must be at least 1", field="limit")])
    text = text[:MAX_TEXT]
    today = today or dt.date.today()
    filters = SearchFilters(sector=sector, ipc=ipc)
    filters.check()
    result = ScreenResult(query=text, subject=subject, screened_on=today)
    with store.read_session() as session:
        ensure_searchable(session)
        # a scan of every document: kept until the documents change
        result.coverage = memoised(store, session, "coverage", coverage)
        tokens = query_words(text)
        if not tokens:
            raise InputError(
                [Problem("the text has no content words to screen with", field="text")]
            )
        df = term_frequencies(session, tokens)
        present = [t for t in tokens if df[t]]
        rarest = sorted(present, key=lambda t: (df[t], tokens.index(t)))[:CANDIDATE_WORDS]
        if not rarest:
            return result
        q = any_of(rarest)
        _, ranked = rank(store, session, q, filters, limit=CANDIDATES + 1)
        ranked = [r for r in ranked if r[0] != exclude][:CANDIDATES]
        result.candidates = len(ranked)
        statuses = load_statuses(session, [i for i, _ in ranked], today)
        hits = build_hits(session, ranked, q, statuses)
    if not hits:
        return result
    scored = similarity_scores(text, [h.doc for h in hits if h.doc is not None])
    screened = [
        ScreenHit(hit=hit, similarity=found[0], overlap_terms=found[1], percentile=found[2])
        for hit, found in zip(hits, scored, strict=True)
        if found is not None
    ]
    screened.sort(key=lambda s: (-round(s.similarity, 9), s.hit.document_id))
    result.review = [s for s in screened if not s.hit.legal_status.is_free][:limit]
    result.free_to_use = [s for s in screened if s.hit.legal_status.is_free][:limit]
    return result


def screen_patent(store: Store, number: str, **kw: Any) -> ScreenResult:
    with store.read_session() as session:
        doc_id, text = patent_text(session, number)
    return screen(store, text, subject=f"patent {number}", exclude=doc_id, **kw)

"""Stored documents as matcher input: text, applicants, assigned sector tags, legal events."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Sequence
from collections.abc import Set as AbstractSet
from functools import lru_cache

from sqlalchemy import select
from sqlalchemy.orm import Session

from rules.docview import EventView, MatchDoc, party_keys
from warning.store.models import Document, DocumentTag, LegalEvent
from warning.taxonomy import load_taxonomy

CHUNK = 500


def ipc_tags(ipc: Sequence[str]) -> tuple[dict[str, float], dict[str, float]]:
    """Sectors and sub-fields implied by IPC alone (used when a document has no classifier tags)."""
    sectors, subfields = _ipc_tags(tuple(ipc))
    return dict.fromkeys(sectors, 1.0), dict.fromkeys(subfields, 1.0)


@lru_cache(maxsize=50_000)
def _ipc_tags(ipc: tuple[str, ...]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The packaged taxonomy's tags of an IPC list (many documents share one; a screening
    or a matcher batch asks for hundreds)."""
    taxonomy = load_taxonomy()
    sectors = tuple(taxonomy.sectors_for_ipc(list(ipc)))
    subfields = tuple(
        sf.qualified
        for sf in taxonomy.subfields
        if sf.ipc and any(sym.startswith(p) for sym in ipc for p in sf.ipc)
    )
    return sectors, subfields


def _tags(
    session: Session, doc_ids: Sequence[int]
) -> dict[int, tuple[dict[str, float], dict[str, float]]]:
    """Assigned tags of the active classifier version for each document.

    While a newly activated version is still re-tagging (in batches), a document it has not
    reached yet keeps the tags of the newest version that did tag it, so alerts never wait.
    """
    from models.registry import active_version

    active = active_version(session)
    rows = session.execute(
        select(
            DocumentTag.document_id,
            DocumentTag.model_version,
            DocumentTag.sector,
            DocumentTag.subfield,
            DocumentTag.confidence,
            DocumentTag.assigned,
            DocumentTag.created_at,
        ).where(DocumentTag.document_id.in_(doc_ids))
    ).all()
    newest: dict[int, tuple[bool, dt.datetime, str]] = {}
    for row in rows:
        rank = (row.model_version == active, row.created_at, row.model_version)
        current = newest.get(row.document_id)
        if current is None or rank > current:
            newest[row.document_id] = rank
    out: dict[int, tuple[dict[str, float], dict[str, float]]] = defaultdict(lambda: ({}, {}))
    for row in rows:
        if not row.assigned or newest[row.document_id][2] != row.model_version:
            continue
        sectors, subfields = out[row.document_id]
        if row.subfield:
            name = row.subfield if "." in row.subfield else f"{row.sector}.{row.subfield}"
            subfields[name] = max(subfields.get(name, 0.0), row.confidence)
        elif row.sector != "other":
            sectors[row.sector] = max(sectors.get(row.sector, 0.0), row.confidence)
    # a document tagged by a model but assigned nothing is "other": no IPC fallback for it
    return {doc_id: out[doc_id] for doc_id in newest}


def load_match_docs(
    session: Session,
    doc_ids: Iterable[int],
    *,
    event_ids: AbstractSet[int] | None = None,
    new_publications: set[int] | None = None,
    events_between: tuple[dt.date, dt.date] | None = None,
) -> list[MatchDoc]:
    """MatchDocs for ``doc_ids``, read in chunks (SQLite allows ~32k bound parameters).

    ``event_ids``: only these legal events are attached (live matching: the new ones); None
    attaches every event (or those dated within
    ``events_between``). ``new_publications``: the documents whose publication itself is new
    (None: all of them).
    """
    ids = sorted(set(doc_ids))
    if len(ids) > CHUNK:
        out: list[MatchDoc] = []
        for start in range(0, len(ids), CHUNK):
            out += load_match_docs(
                session,
                ids[start : start + CHUNK],
                event_ids=event_ids,
                new_publications=new_publications,
                events_between=events_between,
            )
        return out
    if not ids:
        return []
    documents = (
        session.execute(select(Document).where(Document.id.in_(ids)).order_by(Document.id))
        .scalars()
        .all()
    )
    tags = _tags(session, ids)
    events: dict[int, list[EventView]] = defaultdict(list)
    query = select(LegalEvent).where(LegalEvent.document_id.in_(ids)).order_by(LegalEvent.id)
    if events_between is not None:
        query = query.where(
            LegalEvent.event_date >= events_between[0], LegalEvent.event_date <= events_between[1]
        )
    for ev in session.execute(query).scalars():
        if event_ids is not None and ev.id not in event_ids:
            continue
        events[ev.document_id].append(
            EventView(
                code=ev.code.upper(),
                date=ev.event_date,
                description=ev.description,
                category=ev.category,
                parties=ev.parties or {},
                id=ev.id,
            )
        )
    out = []
    for doc in documents:
        sectors, subfields = tags[doc.id] if doc.id in tags else ipc_tags(doc.ipc or [])
        doc_events = events.get(doc.id, [])
        out.append(
            MatchDoc(
                number=doc.number,
                office=doc.office,
                kind=doc.kind,
                title=doc.title or "",
                abstract=doc.abstract or "",
                claims=doc.claims or "",
                applicants=list(doc.applicants or []),
                addresses=list(doc.addresses or []),
                ipc=list(doc.ipc or []),
                publication_date=doc.publication_date,
                source=doc.source,
                sectors=sectors,
                subfields=subfields,
                events=doc_events,
                id=doc.id,
                party_names=party_keys(doc_events),
                is_new_publication=(not doc.is_stub)
                and (new_publications is None or doc.id in new_publications),
            )
        )
    return out


def own_patent_texts(session: Session, numbers: Iterable[str]) -> dict[str, tuple[str, list[str]]]:
    """(title + abstract + claims, IPC) of stored documents, by the numbers asked for."""
    from warning.records import split_number

    bases = {split_number(n)[1]: n for n in numbers}
    if not bases:
        return {}
    found: dict[str, tuple[str, list[str]]] = {}
    like = [Document.number.like(f"%{base}%") for base in bases]
    from sqlalchemy import or_

    for chunk_start in range(0, len(like), 200):
        rows = session.execute(
            select(
                Document.number, Document.title, Document.abstract, Document.claims, Document.ipc
            ).where(or_(*like[chunk_start : chunk_start + 200]))
        ).all()
        for row in rows:
            base = split_number(row.number)[1]
            if base in bases:
                text = " ".join(filter(None, (row.title, row.abstract, row.claims)))
                found[bases[base]] = (text, list(row.ipc or []))
    return found

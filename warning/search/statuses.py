"""Legal status of stored documents: their events and those of the same application's other
publications (an A publication's grant, B, is a separate document with the same application
number), read in chunks and derived by :func:`warning.legal_status.derive_status`."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from warning.legal_status import GRANT_KINDS, Event, LegalStatus, derive_status
from warning.store.models import Document, LegalEvent

CHUNK = 500


def load_statuses(session: Session, ids: Sequence[int], today: dt.date) -> dict[int, LegalStatus]:
    out: dict[int, LegalStatus] = {}
    for start in range(0, len(ids), CHUNK):
        out.update(_chunk(session, list(ids[start : start + CHUNK]), today))
    return out


def _chunk(session: Session, ids: list[int], today: dt.date) -> dict[int, LegalStatus]:
    docs = session.execute(
        select(
            Document.id, Document.kind, Document.application_date, Document.application_number
        ).where(Document.id.in_(ids))
    ).all()
    numbers = sorted({d.application_number for d in docs if d.application_number})
    family: dict[str, list[tuple[int, str, dt.date | None]]] = defaultdict(list)
    if numbers:
        for row in session.execute(
            select(
                Document.id, Document.kind, Document.application_date, Document.application_number
            ).where(Document.application_number.in_(numbers))
        ):
            family[row.application_number].append((row.id, row.kind, row.application_date))
    members: dict[int, list[tuple[int, str, dt.date | None]]] = {
        d.id: family.get(d.application_number or "", []) or [(d.id, d.kind, d.application_date)]
        for d in docs
    }
    all_ids = sorted({m[0] for group in members.values() for m in group} | set(ids))
    events: dict[int, list[Event]] = defaultdict(list)
    for start in range(0, len(all_ids), CHUNK):
        for row in session.execute(
            select(
                LegalEvent.document_id, LegalEvent.code, LegalEvent.event_date, LegalEvent.category
            ).where(LegalEvent.document_id.in_(all_ids[start : start + CHUNK]))
        ):
            events[row.document_id].append(Event(row.code, row.event_date, row.category))
    out: dict[int, LegalStatus] = {}
    for d in docs:
        group = members[d.id]
        applied = d.application_date or next((m[2] for m in group if m[2]), None)
        granted = any(m[1][:1].upper() in GRANT_KINDS for m in group)
        seen: set[tuple[str, dt.date]] = set()
        doc_events: list[Event] = []
        for member in {m[0] for m in group} | {d.id}:
            for ev in events.get(member, []):
                if (ev.code, ev.date) not in seen:  # the same event published for A and B
                    seen.add((ev.code, ev.date))
                    doc_events.append(ev)
        out[d.id] = derive_status(d.kind, applied, doc_events, today, granted=granted)
    return out

"""The store's documents and legal events as plain rows for forecasts, legal status and indicators.

One read of the window ``[since, until]`` by publication date (stub documents left out). Sectors
and sub-fields come from :func:`warning.digest.inputs.tags_by_document` and applicants from the
digest's applicant rows, so the forecasts, the digest and the indicators agree on who and what a
document is.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from warning.digest.inputs import (
    ApplicantRow,
    _applicants_by_document,
    _applicants_from_record,
    _chunks,
    tags_by_document,
)
from warning.digest.legal import digest_category
from warning.store.models import Document, LegalEvent

#: kind letter -> the four document classes of the statistics (C and Y are older grant codes)
KIND_CLASS = {"A": "A", "B": "B", "C": "B", "U": "U", "Y": "U", "S": "S"}
GRANT_KINDS = frozenset({"B", "U", "S"})


@dataclass(frozen=True)
class EventBrief:
    code: str
    category: str
    event_date: dt.date


@dataclass(frozen=True)
class StoreDoc:
    id: int
    number: str
    office: str
    title: str
    kind: str
    publication_date: dt.date
    application_date: dt.date | None
    application_number: str | None
    ipc: tuple[str, ...]
    sectors: tuple[str, ...]
    subfields: tuple[str, ...]
    applicants: tuple[ApplicantRow, ...]
    events: tuple[EventBrief, ...] = ()

    @property
    def kind_class(self) -> str | None:
        """A (application), B (invention grant), U (utility model), S (design), else None."""
        return KIND_CLASS.get(self.kind[:1].upper())

    @property
    def is_grant(self) -> bool:
        return self.kind_class in GRANT_KINDS

    @property
    def first_country(self) -> str | None:
        return self.applicants[0].country if self.applicants else None

    @property
    def is_foreign(self) -> bool | None:
        """First applicant outside mainland China; None when its country is unknown."""
        country = self.first_country
        return None if country is None else country != "CN"


def load_documents(
    session: Session,
    *,
    until: dt.date,
    since: dt.date | None = None,
    with_events: bool = False,
) -> list[StoreDoc]:
    """Every non-stub document published in ``[since, until]``, oldest publication first."""
    cols = (
        Document.id,
        Document.number,
        Document.office,
        Document.title,
        Document.kind,
        Document.publication_date,
        Document.application_date,
        Document.application_number,
        Document.ipc,
        Document.applicants,
        Document.addresses,
    )
    query = (
        select(*cols)
        .where(Document.is_stub.is_(False))
        .where(Document.publication_date.is_not(None))
        .where(Document.publication_date <= until)
    )
    if since is not None:
        query = query.where(Document.publication_date >= since)
    raw = list(session.execute(query.order_by(Document.publication_date, Document.id)))
    ids = [r.id for r in raw]
    tags = tags_by_document(session, raw)
    applicants = _applicants_by_document(session, ids)
    events = _events_by_document(session, ids, until) if with_events else {}
    return [
        StoreDoc(
            id=r.id,
            number=r.number,
            office=r.office,
            title=r.title or "",
            kind=r.kind,
            publication_date=r.publication_date,
            application_date=r.application_date,
            application_number=r.application_number,
            ipc=tuple(r.ipc or ()),
            sectors=tags[r.id].sectors,
            subfields=tags[r.id].subfields,
            applicants=applicants.get(r.id) or _applicants_from_record(r),
            events=tuple(events.get(r.id, ())),
        )
        for r in raw
    ]


def _events_by_document(
    session: Session, ids: list[int], until: dt.date
) -> dict[int, list[EventBrief]]:
    found: dict[int, list[EventBrief]] = defaultdict(list)
    for chunk in _chunks(ids):
        rows = session.execute(
            select(
                LegalEvent.document_id, LegalEvent.code, LegalEvent.category, LegalEvent.event_date
            )
            .where(LegalEvent.document_id.in_(chunk))
            .where(LegalEvent.event_date <= until)
            .order_by(LegalEvent.event_date, LegalEvent.id)
        )
        for r in rows:
            found[r.document_id].append(
                EventBrief(r.code, _category(r.code, r.category), r.event_date)
            )
    return found


def _category(code: str, stored: str | None) -> str:
    """The code table's category (licence and pledge too), else the digest heading."""
    from warning.legal_codes import category_of

    return category_of(code) or stored or digest_category(code, stored)

"""Idempotent ingestion of document records: re-ingesting the same bulletin changes nothing."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from warning.applicants import city_of, country_of, fold_width, normalize_applicant, province_of
from warning.records import DocumentRecord, LegalEventRecord
from warning.store.models import (
    Applicant,
    Document,
    DocumentApplicant,
    DocumentTag,
    LegalEvent,
    utcnow,
)
from warning.store.upsert import dialect_insert, insert_ignore_returning_id


@dataclass
class IngestResult:
    new: int = 0
    updated: int = 0
    unchanged: int = 0
    new_events: int = 0
    document_ids: list[int] = field(default_factory=list)

    def add(self, other: IngestResult) -> None:
        self.new += other.new
        self.updated += other.updated
        self.unchanged += other.unchanged
        self.new_events += other.new_events
        self.document_ids.extend(other.document_ids)


def _document_values(record: DocumentRecord) -> dict[str, object]:
    return {
        "office": record.office,
        "number": record.number,
        "kind": record.kind,
        "title": record.title,
        "abstract": record.abstract,
        "claims": record.claims,
        "applicants": record.applicants,
        "addresses": record.addresses,
        "inventors": record.inventors,
        "ipc": record.ipc,
        "publication_date": record.publication_date,
        "application_date": record.application_date,
        "application_number": record.application_number,
        "language": record.language,
        "source": record.source,
        "raw_ref": record.raw_ref,
        "content_hash": record.content_hash(),
        "is_stub": False,
    }


def is_event_only(record: DocumentRecord) -> bool:
    """A transaction/legal-status record names a document but carries no bibliographic data."""
    return not (record.title or record.applicants or record.ipc or record.abstract)


def ingest_document(session: Session, record: DocumentRecord) -> IngestResult:
    """Upsert one document on (office, number, kind), its applicants and its legal events.

    An event-only record never overwrites the document's data with blanks: its events go to
    the stored document, or to a stub until the document itself arrives.
    """
    result = IngestResult()
    if is_event_only(record):
        doc_id = ensure_stub_document(
            session, record.office, record.number, record.kind, record.source
        )
        for event in record.legal_events:
            result.new_events += ingest_legal_event(session, doc_id, event, source=record.source)
        result.unchanged = 0 if result.new_events else 1
        result.document_ids.append(doc_id)
        return result
    values = _document_values(record)
    now = utcnow()
    table = Document.__table__
    new_id = insert_ignore_returning_id(
        session,
        table,
        {**values, "first_seen_at": now, "updated_at": now},
        ["office", "number", "kind"],
    )
    if new_id is not None:
        doc_id = new_id
        result.new = 1
        _link_applicants(session, doc_id, record)
    else:
        doc = session.execute(
            select(Document).where(
                Document.office == record.office,
                Document.number == record.number,
                Document.kind == record.kind,
            )
        ).scalar_one()
        doc_id = doc.id
        was_stub = doc.is_stub
        if doc.content_hash == values["content_hash"] and not was_stub:
            result.unchanged = 1
        else:
            for key, value in values.items():
                setattr(doc, key, value)
            doc.updated_at = now
            session.execute(
                delete(DocumentApplicant).where(DocumentApplicant.document_id == doc_id)
            )
            # text changed: tags from any model version are stale and are recomputed
            session.execute(delete(DocumentTag).where(DocumentTag.document_id == doc_id))
            session.flush()
            _link_applicants(session, doc_id, record)
            # a stub getting its data is the document's first appearance, whichever file of a
            # crawl (events or gazette) happened to be parsed first
            if was_stub:
                doc.first_seen_at = now
                result.new = 1
            else:
                result.updated = 1
    for event in record.legal_events:
        result.new_events += ingest_legal_event(session, doc_id, event, source=record.source)
    result.document_ids.append(doc_id)
    return result


def ingest_documents(session: Session, records: Iterable[DocumentRecord]) -> IngestResult:
    total = IngestResult()
    for record in records:
        total.add(ingest_document(session, record))
    return total


def ingest_legal_event(
    session: Session, document_id: int, event: LegalEventRecord, *, source: str
) -> int:
    """Store a legal event once; 1 when it was new."""
    new_id = insert_ignore_returning_id(
        session,
        LegalEvent.__table__,
        {
            "document_id": document_id,
            "code": event.code.upper(),
            "category": event.category,
            "event_date": event.date,
            "description": event.description,
            "parties": event.parties,
            "source": source,
            "created_at": utcnow(),
        },
        ["document_id", "code", "event_date"],
    )
    return 1 if new_id is not None else 0


def ensure_stub_document(session: Session, office: str, number: str, kind: str, source: str) -> int:
    """The id of a document, creating a stub when a legal event arrives before the document."""
    now = utcnow()
    new_id = insert_ignore_returning_id(
        session,
        Document.__table__,
        {
            "office": office,
            "number": number,
            "kind": kind,
            "title": "",
            "abstract": "",
            "claims": "",
            "applicants": [],
            "addresses": [],
            "inventors": [],
            "ipc": [],
            "language": "zh",
            "source": source,
            "content_hash": "",
            "is_stub": True,
            "first_seen_at": now,
            "updated_at": now,
        },
        ["office", "number", "kind"],
    )
    if new_id is not None:
        return new_id
    return session.execute(
        select(Document.id).where(
            Document.office == office, Document.number == number, Document.kind == kind
        )
    ).scalar_one()


def _link_applicants(session: Session, doc_id: int, record: DocumentRecord) -> None:
    for position, name in enumerate(record.applicants):
        address = (
            record.addresses[position]
            if position < len(record.addresses)
            else (record.addresses[0] if len(record.addresses) == 1 else None)
        )
        applicant_id = upsert_applicant(session, name, address, office=record.office)
        session.add(
            DocumentApplicant(
                document_id=doc_id, position=position, applicant_id=applicant_id, address=address
            )
        )
    session.flush()


def upsert_applicant(session: Session, name: str, address: str | None, *, office: str) -> int:
    key = normalize_applicant(name) or fold_width(name).lower()
    country = country_of(address, name, default="CN" if office == "CN" else None)
    table = Applicant.__table__
    stmt = dialect_insert(session, table).values(
        normalized=key,
        display_name=fold_width(name),
        country=country,
        province=province_of(address),
        city=city_of(address),
    )
    stmt = stmt.on_conflict_do_update(
        index_elements=["normalized"], set_={"normalized": stmt.excluded.normalized}
    ).returning(table.c.id)
    return int(session.execute(stmt).scalar_one())

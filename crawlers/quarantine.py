"""Quarantined records: list, show and retry (after a parser fix or a store outage).

A record lands in quarantine with its raw bytes when it could not be parsed (the bulletin's
bytes) or stored (the parsed record as JSON). Retrying parses the bytes again with today's
parsers (or re-reads the JSON) and stores what now succeeds; a retried record leaves the
quarantine, one that still fails stays with the new reason. Nothing is lost either way.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from pydantic import ValidationError
from sqlalchemy import func, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from crawlers.parsers import BadRecord, parse_bytes
from crawlers.store_ops import CrawlCounts, store_record
from warning.errors import InputError, Problem
from warning.records import DocumentRecord
from warning.store.models import QuarantinedRecord


def list_quarantined(
    session: Session, source: str | None = None, limit: int = 50
) -> tuple[list[QuarantinedRecord], int]:
    """The newest quarantined records (optionally of one source) and how many there are."""
    stmt = select(QuarantinedRecord).order_by(QuarantinedRecord.id.desc()).limit(limit)
    total = select(func.count()).select_from(QuarantinedRecord)
    if source is not None:
        stmt = stmt.where(QuarantinedRecord.source == source)
        total = total.where(QuarantinedRecord.source == source)
    return list(session.scalars(stmt)), int(session.scalar(total) or 0)


def get_quarantined(session: Session, record_id: int) -> QuarantinedRecord:
    row = session.get(QuarantinedRecord, record_id)
    if row is None:
        raise InputError(
            [
                Problem(
                    f"no quarantined record #{record_id} (see `ipwarn quarantine list`)", field="ID"
                )
            ]
        )
    return row


@dataclass
class RetryOutcome:
    record_id: int
    #: stored | still_bad
    status: str
    counts: CrawlCounts = field(default_factory=CrawlCounts)
    reason: str = ""


def _records_of(row: QuarantinedRecord) -> tuple[list[DocumentRecord], list[BadRecord]]:
    """A store failure kept the parsed record as JSON; a parse failure kept the raw bytes."""
    if row.raw[:1] == b"{" and row.reason.startswith("could not store"):
        try:
            return [DocumentRecord.model_validate(json.loads(row.raw))], []
        except (ValueError, ValidationError) as exc:
            return [], [BadRecord(row.location, f"stored JSON no longer valid: {exc}", row.raw)]
    good: list[DocumentRecord] = []
    bad: list[BadRecord] = []
    for outcome in parse_bytes(row.raw, row.location):
        (bad if isinstance(outcome, BadRecord) else good).append(outcome)  # type: ignore[arg-type]
    return good, bad


def retry_quarantined(session: Session, row: QuarantinedRecord) -> RetryOutcome:
    """Parse and store ``row`` again in a savepoint; remove it from quarantine when it works."""
    good, bad = _records_of(row)
    if bad or not good:
        reason = "; ".join(b.reason for b in bad) or "no record found in the bytes"
        row.reason = reason[:4000]
        return RetryOutcome(row.id, "still_bad", reason=reason)
    counts = CrawlCounts()
    try:
        with session.begin_nested():
            for record in good:
                counts.add(store_record(session, record.model_copy(update={"source": row.source})))
    except (SQLAlchemyError, ValueError) as exc:
        reason = f"could not store: {type(exc).__name__}: {str(exc).splitlines()[0]}"
        return RetryOutcome(row.id, "still_bad", reason=reason)
    session.delete(row)
    return RetryOutcome(row.id, "stored", counts)

"""Quarantined records: list them, show one, and replay them into the store.

A record is quarantined with its raw bytes and the reason: bytes a parser refused, or (from
versions before store errors were retried) a parsed record kept as JSON after a database error.
Replaying parses the bytes again with the current parsers (or reads the JSON record) and
stores the result through the normal ingest; a record that still fails stays, with its new
reason, and nothing else is touched.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from pydantic import ValidationError
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from crawlers.parsers import BadRecord, parse_bytes
from crawlers.store_ops import CrawlCounts, store_record
from warning.errors import InputError, Problem
from warning.records import DocumentRecord
from warning.store.engine import Store
from warning.store.models import QuarantinedRecord


@dataclass
class ReplayResult:
    #: (quarantine id, what storing it added or changed)
    stored: list[tuple[int, CrawlCounts]] = field(default_factory=list)
    #: (quarantine id, why it still fails)
    failing: list[tuple[int, str]] = field(default_factory=list)
    counts: CrawlCounts = field(default_factory=CrawlCounts)


def list_quarantine(
    session: Session, *, source: str | None = None, limit: int = 100
) -> tuple[list[QuarantinedRecord], int]:
    """The newest quarantined records (optionally of one source) and how many there are."""
    query = select(QuarantinedRecord).order_by(QuarantinedRecord.id.desc()).limit(limit)
    total = select(func.count()).select_from(QuarantinedRecord)
    if source:
        query = query.where(QuarantinedRecord.source == source)
        total = total.where(QuarantinedRecord.source == source)
    return list(session.scalars(query)), int(session.scalar(total) or 0)


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


def records_of(row: QuarantinedRecord) -> list[DocumentRecord] | str:
    """The records in a quarantined row, or the reason they still cannot be read."""
    raw = bytes(row.raw)
    if raw.lstrip()[:1] == b"{":
        try:
            return [DocumentRecord.model_validate_json(raw)]
        except ValidationError:
            pass  # not one of our JSON records: parse it like a bulletin
    name = row.location.split("#", 1)[0]
    try:
        outcomes = list(parse_bytes(raw, name))
    except Exception as exc:  # a parser bug is a reason too, not a crash of the replay
        return f"{type(exc).__name__}: {exc}"
    bad = [o for o in outcomes if isinstance(o, BadRecord)]
    if bad:
        return bad[0].reason
    records = [o for o in outcomes if not isinstance(o, BadRecord)]
    return [
        r.model_copy(update={"source": row.source, "raw_ref": row.location}) for r in records
    ] or "no records in the quarantined bytes"


def replay_quarantine(store: Store, ids: list[int] | None = None) -> ReplayResult:
    """Replay the given quarantined records (None: all); each in its own transaction."""
    with store.read_session() as session:
        query = select(QuarantinedRecord.id).order_by(QuarantinedRecord.id)
        if ids is not None:
            missing = set(ids) - set(session.scalars(query.where(QuarantinedRecord.id.in_(ids))))
            if missing:
                raise InputError(
                    [
                        Problem(
                            f"no quarantined record {', '.join(map(str, sorted(missing)))}; "
                            "see `ipwarn quarantine list`",
                            field="ID",
                        )
                    ]
                )
            query = query.where(QuarantinedRecord.id.in_(ids))
        todo = list(session.scalars(query))
    result = ReplayResult()
    for record_id in todo:
        with store.session() as session:
            row = session.get(QuarantinedRecord, record_id)
            if row is None:  # replayed by someone else meanwhile
                continue
            records = records_of(row)
            if isinstance(records, str):
                row.reason = records
                result.failing.append((record_id, records))
                continue
            try:
                with session.begin_nested():
                    counts = CrawlCounts()
                    for record in records:
                        counts.add(store_record(session, record))
            except ValueError as exc:
                row.reason = f"could not store: {exc}"
                result.failing.append((record_id, row.reason))
                continue
            session.delete(row)
            result.counts.add(counts)
            result.stored.append((record_id, counts))
    return result

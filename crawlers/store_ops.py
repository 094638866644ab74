"""Database writes of the crawl: records, quarantine, fetch state and run counters.

Kept apart from Scrapy so that the pipeline stays thin and these are testable on their own.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from warning.records import DocumentRecord
from warning.store.ingest import ingest_document
from warning.store.models import CrawlRun, FetchState, QuarantinedRecord, utcnow

#: raw bytes kept per quarantined record (a whole weekly file is not useful to keep twice)
MAX_RAW_BYTES = 8 << 20


@dataclass
class CrawlCounts:
    new: int = 0
    updated: int = 0
    unchanged: int = 0
    quarantined: int = 0
    new_events: int = 0

    def add(self, other: CrawlCounts) -> None:
        self.new += other.new
        self.updated += other.updated
        self.unchanged += other.unchanged
        self.quarantined += other.quarantined
        self.new_events += other.new_events

    def as_dict(self) -> dict[str, int]:
        return asdict(self)

    @property
    def fresh(self) -> bool:
        """Did this crawl bring anything new (documents, changes or legal events)?"""
        return bool(self.new or self.updated or self.new_events)


def store_record(session: Session, record: DocumentRecord) -> CrawlCounts:
    """Store one record (event-only records are handled by the store: they never blank data)."""
    result = ingest_document(session, record)
    return CrawlCounts(
        new=result.new,
        updated=result.updated,
        unchanged=result.unchanged,
        new_events=result.new_events,
    )


def quarantine(
    session: Session, source: str, run_id: int | None, location: str, reason: str, raw: bytes
) -> None:
    if len(raw) > MAX_RAW_BYTES:
        reason += f" (raw bytes truncated from {len(raw)})"
        raw = raw[:MAX_RAW_BYTES]
    session.add(
        QuarantinedRecord(
            source=source, crawl_run_id=run_id, location=location, reason=reason, raw=raw
        )
    )


def remember_fetch(
    session: Session,
    source: str,
    url: str,
    etag: str | None,
    last_modified: str | None,
    content_hash: str | None,
) -> None:
    state = session.execute(
        select(FetchState).where(FetchState.source == source, FetchState.url == url)
    ).scalar_one_or_none()
    if state is None:
        state = FetchState(source=source, url=url)
        session.add(state)
    state.etag = etag
    state.last_modified = last_modified
    state.content_hash = content_hash
    state.fetched_at = utcnow()


def update_run(session: Session, run_id: int, counts: CrawlCounts) -> None:
    run = session.get(CrawlRun, run_id)
    if run is None:
        return
    run.new, run.updated, run.unchanged, run.quarantined = (
        counts.new,
        counts.updated,
        counts.unchanged,
        counts.quarantined,
    )
    if counts.fresh:
        run.last_item_at = utcnow()

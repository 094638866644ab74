"""The item pipeline: store each fetched file's records, quarantine and fetch state atomically."""

from __future__ import annotations

import os
import time
from typing import Any

from scrapy.crawler import Crawler
from sqlalchemy.exc import DataError, SQLAlchemyError
from sqlalchemy.orm import Session

from crawlers.items import FileBatch
from crawlers.job import DATABASE_ENV
from crawlers.store_ops import CrawlCounts, quarantine, remember_fetch, store_record, update_run
from warning.errors import ConfigError, Problem
from warning.logging import get_logger
from warning.store.engine import Store, describe_store_error, is_transient

log = get_logger(__name__)

#: the setting ``store_retry_attempts``, handed to the crawl subprocess by ``crawlers.runner``
RETRY_ENV = "IPWARN_STORE_RETRY_ATTEMPTS"
DEFAULT_ATTEMPTS = 4
BACKOFF_SECONDS = 1.0
MAX_BACKOFF_SECONDS = 30.0


class StorePipeline:
    """Writes through :func:`warning.store.ingest.ingest_document`, one transaction per file.

    A transient database error (lock, deadlock, lost connection) is not bad input: the file's
    transaction is retried (``store_retry_attempts``, with back-off); if it still fails, nothing
    of the file is kept, it is not marked fetched (the next crawl fetches it again), and the
    crawl reports it failed. Quarantine is only for records that cannot be parsed or stored
    because of their own values.
    """

    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler
        url = os.environ.get(DATABASE_ENV)
        if not url:
            raise ConfigError(
                [Problem("the crawl subprocess needs the database URL", field=DATABASE_ENV)]
            )
        self.store = Store(url)
        self.counts = CrawlCounts()
        try:
            self.attempts = max(1, int(os.environ.get(RETRY_ENV, DEFAULT_ATTEMPTS)))
        except ValueError:
            self.attempts = DEFAULT_ATTEMPTS

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> StorePipeline:
        return cls(crawler)

    @property
    def _job(self) -> Any:
        return getattr(self.crawler.spider, "job", None)

    def process_item(self, item: Any) -> Any:
        if not isinstance(item, FileBatch):
            return item
        stats = self.crawler.stats
        for attempt in range(1, self.attempts + 1):
            try:
                batch_counts = self._store_file(item)
                break
            except Exception as exc:
                retry = is_transient(exc) and attempt < self.attempts
                reason = describe_store_error(exc) if isinstance(exc, SQLAlchemyError) else str(exc)
                log.warning(
                    "crawl.store_retry" if retry else "crawl.store_failed",
                    url=item.url,
                    attempt=attempt,
                    error=reason,
                )
                if not retry:
                    if stats is not None:
                        stats.inc_value("ipwarn/store_failed_files")
                        stats.set_value("ipwarn/store_error", f"{item.url}: {reason}")
                    return item
                if stats is not None:
                    stats.inc_value("ipwarn/store_retries")
                time.sleep(min(BACKOFF_SECONDS * 2 ** (attempt - 1), MAX_BACKOFF_SECONDS))
        self.counts.add(batch_counts)
        if stats is not None:
            for key, value in batch_counts.as_dict().items():
                stats.inc_value(f"ipwarn/{key}", value)
        return item

    def _store_file(self, item: FileBatch) -> CrawlCounts:
        """The file's records, quarantine, fetch state and run counters in one transaction."""
        job = self._job
        source = job.source if job else "unknown"
        run_id = job.run_id if job else None
        batch_counts = CrawlCounts()
        with self.store.session() as session:
            for record in item.records:
                self._store_one(session, source, run_id, record, batch_counts)
            for bad in item.bad:
                quarantine(session, source, run_id, bad.location, bad.reason, bad.raw)
                batch_counts.quarantined += 1
            if item.remember:
                remember_fetch(
                    session, source, item.url, item.etag, item.last_modified, item.content_hash
                )
            if run_id is not None:
                total = CrawlCounts(**self.counts.as_dict())
                total.add(batch_counts)
                update_run(session, run_id, total)
        return batch_counts

    def _store_one(
        self, session: Session, source: str, run_id: int | None, record: Any, counts: CrawlCounts
    ) -> None:
        """Store one record; only a record whose own values are refused is quarantined."""
        try:
            with session.begin_nested():
                counts.add(store_record(session, record))
        except (DataError, ValueError) as exc:
            reason = (
                f"could not store {record.number}: {type(exc).__name__}: {str(exc).splitlines()[0]}"
            )
            quarantine(
                session,
                source,
                run_id,
                record.raw_ref or record.number,
                reason,
                record.to_json().encode("utf-8"),
            )
            counts.quarantined += 1

    def close_spider(self) -> None:
        self.store.dispose()

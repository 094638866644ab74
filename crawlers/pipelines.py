"""The item pipeline: store each fetched file's records, quarantine and fetch state atomically."""

from __future__ import annotations

import os
from typing import Any

from scrapy.crawler import Crawler
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from crawlers.items import FileBatch
from crawlers.job import DATABASE_ENV
from crawlers.store_ops import CrawlCounts, quarantine, remember_fetch, store_record, update_run
from warning.errors import ConfigError, Problem
from warning.store.engine import Store


class StorePipeline:
    """Writes through :func:`warning.store.ingest.ingest_document`, one transaction per file."""

    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler
        url = os.environ.get(DATABASE_ENV)
        if not url:
            raise ConfigError(
                [Problem("the crawl subprocess needs the database URL", field=DATABASE_ENV)]
            )
        self.store = Store(url)
        self.counts = CrawlCounts()

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> StorePipeline:
        return cls(crawler)

    @property
    def _job(self) -> Any:
        return getattr(self.crawler.spider, "job", None)

    def process_item(self, item: Any) -> Any:
        if not isinstance(item, FileBatch):
            return item
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
            self.counts.add(batch_counts)
            if run_id is not None:
                update_run(session, run_id, self.counts)
        stats = self.crawler.stats
        if stats is not None:
            for key, value in batch_counts.as_dict().items():
                stats.inc_value(f"ipwarn/{key}", value)
        return item

    def _store_one(
        self, session: Session, source: str, run_id: int | None, record: Any, counts: CrawlCounts
    ) -> None:
        try:
            with session.begin_nested():
                counts.add(store_record(session, record))
        except (SQLAlchemyError, ValueError) as exc:
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

"""What every bulletin spider shares: conditional GETs, content hashes, ``--since`` filtering,
and turning a downloaded file into a :class:`FileBatch` through the plain parsers."""

from __future__ import annotations

import datetime as dt
import hashlib
import os
from collections.abc import Iterator
from typing import Any

import scrapy
from scrapy.exceptions import IgnoreRequest
from scrapy.http import Response
from sqlalchemy import select
from twisted.python.failure import Failure

from crawlers.items import FileBatch
from crawlers.job import DATABASE_ENV, CrawlJob
from crawlers.parsers import BadRecord, parse_bytes
from warning.records import DocumentRecord
from warning.store.engine import Store
from warning.store.models import FetchState

NOT_MODIFIED = 304


class BulletinSpider(scrapy.Spider):
    """Base class; subclasses implement ``start()``."""

    name = "bulletin"

    def __init__(self, job: CrawlJob, **kwargs: Any) -> None:
        super().__init__(name=job.source, **kwargs)
        self.job = job
        #: url -> (etag, last_modified, content_hash) from earlier crawls
        self.known: dict[str, tuple[str | None, str | None, str | None]] = {}

    # --- state from earlier crawls ------------------------------------------------------------

    def load_fetch_state(self) -> None:
        if self.job.full:
            return
        url = os.environ.get(DATABASE_ENV)
        if not url:
            return
        store = Store(url)
        try:
            with store.read_session() as session:
                rows = session.execute(
                    select(
                        FetchState.url,
                        FetchState.etag,
                        FetchState.last_modified,
                        FetchState.content_hash,
                    ).where(FetchState.source == self.job.source)
                )
                self.known = {r.url: (r.etag, r.last_modified, r.content_hash) for r in rows}
        finally:
            store.dispose()

    # --- requests -----------------------------------------------------------------------------

    def file_request(self, url: str, *, fmt: str | None = None, **meta: Any) -> scrapy.Request:
        """A GET that asks the server to answer 304 when the file did not change."""
        headers: dict[str, str] = {}
        etag, last_modified, _ = self.known.get(url, (None, None, None))
        if etag:
            headers["If-None-Match"] = etag
        if last_modified:
            headers["If-Modified-Since"] = last_modified
        return scrapy.Request(
            url,
            headers=headers,
            callback=self.parse_file,
            errback=self.on_error,
            # callers dedupe their links; unfiltered, a redirect loop ends in an error, not silence
            dont_filter=True,
            meta={"handle_httpstatus_list": [NOT_MODIFIED], "format": fmt, **meta},
        )

    def on_error(self, failure: Failure) -> None:
        """A request that failed for good (retries spent, redirect loop, DNS...): log, go on."""
        request = getattr(failure, "request", None)
        url = request.url if request is not None else "?"
        if failure.check(IgnoreRequest) and "robots.txt" in failure.getErrorMessage():
            self.crawler.stats.inc_value("ipwarn/forbidden_by_robots")
            self.logger.info("not fetched, robots.txt disallows it: %s", url)
            return
        self.crawler.stats.inc_value("ipwarn/failed_requests")
        self.logger.error("request failed for good: %s: %s", url, failure.getErrorMessage())

    # --- responses ----------------------------------------------------------------------------

    def parse_file(self, response: Response) -> Iterator[FileBatch]:
        yield from self.file_batch(response, response.meta.get("format"))

    def file_batch(
        self, response: Response, fmt: str | None = None, *, remember: bool = True
    ) -> Iterator[FileBatch]:
        """Parse one downloaded file unless the server or its hash says it did not change."""
        stats = self.crawler.stats
        if response.status == NOT_MODIFIED:
            stats.inc_value("ipwarn/not_modified")
            return
        body = response.body
        digest = hashlib.sha256(body).hexdigest()
        url = response.request.url if response.request is not None else response.url
        if not self.job.full and self.known.get(url, (None, None, None))[2] == digest:
            stats.inc_value("ipwarn/not_modified")
            return
        stats.inc_value("ipwarn/files")
        stats.inc_value("ipwarn/bytes", len(body))
        batch = FileBatch(
            url=url,
            etag=_header(response, b"ETag"),
            last_modified=_header(response, b"Last-Modified"),
            content_hash=digest,
            remember=remember,
        )
        for outcome in parse_bytes(body, url, fmt):
            if isinstance(outcome, BadRecord):
                batch.bad.append(outcome)
                continue
            record = self.since_filter(outcome)
            if record is None:
                stats.inc_value("ipwarn/older_than_since")
                continue
            batch.records.append(
                record.model_copy(update={"source": self.job.source, "raw_ref": url})
            )
        yield batch

    def since_filter(self, record: DocumentRecord) -> DocumentRecord | None:
        """With ``--since``: keep documents published since then and events dated since then."""
        since: dt.date | None = self.job.since
        if since is None:
            return record
        if record.legal_events:
            events = [e for e in record.legal_events if e.date >= since]
            fresh_document = (
                record.publication_date is not None and record.publication_date >= since
            )
            if not events and not fresh_document:
                return None
            return record.model_copy(update={"legal_events": events})
        if record.publication_date is not None and record.publication_date < since:
            return None
        return record


def _header(response: Response, name: bytes) -> str | None:
    value = response.headers.get(name)
    return value.decode("latin-1") if value else None

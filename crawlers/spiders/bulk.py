"""Bulk download sources (CNIPA XML packages, USPTO weekly files, CN transaction data).

``base_url`` is either one bulletin file or an index page listing them (a web-server directory
listing or the data service's download page): every link to a file with a known extension
under the same site is fetched with a conditional GET and parsed by format sniffing.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any
from urllib.parse import urlsplit

import scrapy
from scrapy.http import Response, TextResponse

from crawlers.spiders.base import BulletinSpider

FILE_SUFFIXES = (".zip", ".xml", ".csv", ".txt", ".tsv")


class BulkSpider(BulletinSpider):
    name = "bulk"

    async def start(self) -> AsyncIterator[Any]:
        self.load_fetch_state()
        yield scrapy.Request(self.job.base_url, callback=self.parse_index, errback=self.on_error)

    def parse_index(self, response: Response) -> Iterator[Any]:
        """An index page: follow its bulletin links. Anything else is a bulletin itself."""
        if not _is_html(response):
            yield from self.file_batch(response)
            return
        assert isinstance(response, TextResponse)
        suffixes = tuple(self.job.options.get("suffixes", FILE_SUFFIXES))
        site = urlsplit(response.url).netloc
        seen: set[str] = set()
        for href in response.css("a::attr(href)").getall():
            url = response.urljoin(href)
            parts = urlsplit(url)
            if parts.netloc != site or not parts.path.lower().endswith(suffixes) or url in seen:
                continue
            seen.add(url)
            yield self.file_request(url)
        self.crawler.stats.set_value("ipwarn/index_links", len(seen))


def _is_html(response: Response) -> bool:
    content_type = (response.headers.get(b"Content-Type") or b"").decode("latin-1").lower()
    if "html" in content_type:
        return True
    head = response.body[:512].lstrip().lower()
    return head.startswith((b"<!doctype html", b"<html"))

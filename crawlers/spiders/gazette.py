"""CNIPA gazette list pages (公布公告): parse each page's ``.cp_linr`` blocks, follow "next".

List pages change every gazette day, so they are not skipped by conditional GET; documents
dedupe on their key in the store. With ``--since`` the spider stops paging once a whole page
is older than the date (pages list the newest first). ``options.max_pages`` caps the walk.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import scrapy
from scrapy.http import Response, TextResponse

from crawlers.spiders.base import BulletinSpider

DEFAULT_MAX_PAGES = 200


class GazetteSpider(BulletinSpider):
    name = "gazette"

    async def start(self) -> AsyncIterator[Any]:
        yield self.page_request(self.job.base_url, 1)

    def page_request(self, url: str, page: int) -> scrapy.Request:
        return scrapy.Request(
            url, callback=self.parse_page, errback=self.on_error, cb_kwargs={"page": page}
        )

    def parse_page(self, response: Response, page: int) -> Iterator[Any]:
        batches = list(self.file_batch(response, "cnipa-gazette", remember=False))
        yield from batches
        older = self.crawler.stats.get_value("ipwarn/older_than_since", 0)
        if self.job.since is not None and batches and not batches[0].records and older:
            self.logger.info("page %d is older than --since %s: stop paging", page, self.job.since)
            return
        max_pages = int(self.job.options.get("max_pages", DEFAULT_MAX_PAGES))
        if page >= max_pages or not isinstance(response, TextResponse):
            return
        link = (
            response.css("a.next::attr(href)").get()
            or response.xpath('//a[contains(., "下一页")]/@href').get()
        )
        if link:
            yield self.page_request(response.urljoin(link), page + 1)

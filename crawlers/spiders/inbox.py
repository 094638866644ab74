"""A local directory of bulletin files, fetched through the real Scrapy engine as ``file://``.

For bulletins delivered on disk (a mounted share, a manual download) and for the embedded demo:
``[sources.inbox] base_url = "file:///abs/dir"``. A file with the size and mtime stored at its
last crawl is not requested at all; one whose stat changed is read, and skipped unparsed when
its SHA-256 is the stored one (see :mod:`crawlers.localfiles`).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from crawlers.localfiles import INBOX_SUFFIXES, inbox_directory, inbox_files, stat_validator
from crawlers.spiders.base import BulletinSpider

__all__ = ["INBOX_SUFFIXES", "InboxSpider", "inbox_directory"]


class InboxSpider(BulletinSpider):
    name = "inbox"

    async def start(self) -> AsyncIterator[Any]:
        self.load_fetch_state()
        directory = inbox_directory(self.job.base_url, self.job.source)
        recursive = bool(self.job.options.get("recursive", False))
        stats = self.crawler.stats
        for path in inbox_files(directory, recursive=recursive):
            url = path.as_uri()
            validator = stat_validator(path)
            etag, _, digest = self.known.get(url, (None, None, None))
            if not self.job.full and digest and validator and etag == validator:
                stats.inc_value("ipwarn/not_modified")
                stats.inc_value("ipwarn/stat_unchanged")
                continue
            yield self.file_request(url, local_etag=validator)

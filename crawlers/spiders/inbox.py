"""A local directory of bulletin files, fetched through the real Scrapy engine as ``file://``.

For bulletins delivered on disk (a mounted share, a manual download) and for the embedded demo:
``[sources.inbox] base_url = "file:///abs/dir"``. Unchanged files are skipped by content hash.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from crawlers.spiders.base import BulletinSpider
from warning.errors import ConfigError, Problem

INBOX_SUFFIXES = (".zip", ".xml", ".csv", ".txt", ".tsv", ".html", ".htm")


def inbox_directory(base_url: str, source: str = "inbox") -> Path:
    parts = urlsplit(base_url)
    if parts.scheme != "file":
        raise ConfigError(
            [Problem("must be a file:///absolute/dir URL", field=f"sources.{source}.base_url")]
        )
    path = Path(unquote(parts.path))
    if not path.is_dir():
        raise ConfigError([Problem(f"not a directory: {path}", field=f"sources.{source}.base_url")])
    return path


class InboxSpider(BulletinSpider):
    name = "inbox"

    async def start(self) -> AsyncIterator[Any]:
        self.load_fetch_state()
        directory = inbox_directory(self.job.base_url, self.job.source)
        recursive = bool(self.job.options.get("recursive", False))
        files = directory.rglob("*") if recursive else directory.iterdir()
        for path in sorted(files):
            if (
                path.is_file()
                and not path.name.startswith(".")
                and path.suffix.lower() in INBOX_SUFFIXES
            ):
                yield self.file_request(path.resolve().as_uri())

"""What spiders hand to the item pipeline: one fetched bulletin file (or list page) at a time.

One item per file, not per document, so the file's records, its quarantined records and its
conditional-GET state are stored in one transaction: a crash never leaves a file half-recorded
as done, which is what makes a crawl resumable.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from crawlers.parsers.common import BadRecord
from warning.records import DocumentRecord


@dataclass
class FileBatch:
    url: str
    records: list[DocumentRecord] = field(default_factory=list)
    bad: list[BadRecord] = field(default_factory=list)
    etag: str | None = None
    last_modified: str | None = None
    content_hash: str | None = None
    #: remember the conditional-GET state (leaf files; not list pages that change daily)
    remember: bool = True

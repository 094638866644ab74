"""Local bulletin files (the ``inbox`` source): listing them and telling unchanged ones by stat.

Scrapy-free, so the parent process can decide that a crawl has nothing to do without starting
a spider subprocess. A local file's validator is the one web servers use for static files
(nginx: ``"<mtime>-<size>"`` in hex, here with nanosecond mtime), stored as the file's ETag in
``FetchState``: same size and mtime means unchanged, and the file is not even read. A file whose
stat changed is read and hashed; the same SHA-256 as stored still means it is not parsed.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from pathlib import Path
from urllib.parse import unquote, urlsplit

from sqlalchemy import select

from warning.errors import ConfigError, Problem
from warning.store.engine import Store
from warning.store.models import FetchState

INBOX_SUFFIXES = (".zip", ".xml", ".csv", ".txt", ".tsv", ".html", ".htm")
#: a file modified this recently may still be written to within one mtime tick: never trust
#: its stat, so the next crawl hashes it (git's "racy clean" problem)
RACY_SECONDS = 2.0


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


def inbox_files(directory: Path, *, recursive: bool = False) -> list[Path]:
    """The bulletin files of an inbox directory, sorted (hidden files and other suffixes left out)."""
    found: Iterable[Path] = directory.rglob("*") if recursive else directory.iterdir()
    return sorted(
        path.resolve()
        for path in found
        if path.is_file()
        and not path.name.startswith(".")
        and path.suffix.lower() in INBOX_SUFFIXES
    )


def stat_validator(path: Path, *, now: float | None = None) -> str | None:
    """The file's size+mtime validator, or None while it is too fresh to be trusted."""
    try:
        st = path.stat()
    except OSError:
        return None
    if (now if now is not None else time.time()) - st.st_mtime < RACY_SECONDS:
        return None
    return f'"{st.st_mtime_ns:x}-{st.st_size:x}"'


def unchanged_by_stat(
    known: dict[str, tuple[str | None, str | None, str | None]], path: Path
) -> bool:
    """Was ``path`` stored with a content hash and the same size and mtime as now?"""
    etag, _, digest = known.get(path.as_uri(), (None, None, None))
    return bool(digest and etag and etag == stat_validator(path))


def load_known(store: Store, source: str) -> dict[str, tuple[str | None, str | None, str | None]]:
    """url -> (etag, last_modified, content_hash) stored by earlier crawls of ``source``."""
    with store.read_session() as session:
        rows = session.execute(
            select(
                FetchState.url, FetchState.etag, FetchState.last_modified, FetchState.content_hash
            ).where(FetchState.source == source)
        )
        return {r.url: (r.etag, r.last_modified, r.content_hash) for r in rows}


def all_unchanged(store: Store, source: str, base_url: str, *, recursive: bool) -> int | None:
    """How many files an inbox holds if every one is unchanged by stat, else None."""
    files = inbox_files(inbox_directory(base_url, source), recursive=recursive)
    if not files:
        return None
    known = load_known(store, source)
    if all(unchanged_by_stat(known, path) for path in files):
        return len(files)
    return None

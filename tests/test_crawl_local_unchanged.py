"""Unchanged local files (the inbox source) are skipped by size+mtime, then by hash, unparsed.

Real gazette list pages from the packaged samples (crawlers/samples, see its ORIGIN.md), crawled
through the real Scrapy engine in its subprocess.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from sqlalchemy import func, select

from crawlers.runner import run_source
from crawlers.samples import sample_dir
from tests.conftest import settings_for
from warning.config import Settings, SourceConfig
from warning.store.engine import Store
from warning.store.models import CrawlRun, Document

OLD = 1_500_000_000  # 2017-07-14: well past the "racy" window of a fresh write


def _inbox(tmp_path: Path, store: Store, settings: Settings, delay: float) -> tuple[Path, Settings]:
    """Two real gazette pages in an inbox directory, and settings with that inbox source."""
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    for name in ("gazette_p1.html", "gazette_p2.html"):
        shutil.copy(sample_dir() / name, inbox / name)
        os.utime(inbox / name, (OLD, OLD))
    source = SourceConfig(base_url=inbox.as_uri(), download_delay=delay)
    return inbox, settings_for(store, settings).model_copy(update={"sources": {"inbox": source}})


@pytest.mark.slow
def test_unchanged_files_are_not_read_touched_ones_not_parsed(
    tmp_path: Path, sqlite_store: Store, settings: Settings
) -> None:
    inbox, cfg = _inbox(tmp_path, sqlite_store, settings, delay=1.0)
    log = cfg.data_dir / "logs" / "crawl-inbox.log"

    first = run_source(cfg, sqlite_store, "inbox")
    assert first.status == "ok" and first.stats["ipwarn/files"] == 2
    assert first.counts["new"] > 0
    with sqlite_store.session() as session:
        stored = session.scalar(select(func.count()).select_from(Document))

    # nothing changed: decided from stat alone, no spider subprocess (its log does not grow)
    log_size = log.stat().st_size
    second = run_source(cfg, sqlite_store, "inbox")
    assert second.status == "ok"
    assert second.stats == {"ipwarn/not_modified": 2, "ipwarn/stat_unchanged": 2}
    assert log.stat().st_size == log_size
    assert "(files=0 not_modified=2" in second.summary()

    # touched (new mtime, same bytes): read and hashed, not parsed; the new stat is remembered
    os.utime(inbox / "gazette_p1.html", (OLD + 60, OLD + 60))
    touched = run_source(cfg, sqlite_store, "inbox")
    assert touched.stats.get("ipwarn/files", 0) == 0
    assert touched.stats["ipwarn/not_modified"] == 2
    assert touched.stats["ipwarn/stat_unchanged"] == 1
    assert touched.counts["unchanged"] == 0  # no record went through the store
    assert run_source(cfg, sqlite_store, "inbox").stats["ipwarn/stat_unchanged"] == 2

    # a real change (another page over it, new size): parsed again
    shutil.copy(sample_dir() / "gazette_p3.html", inbox / "gazette_p2.html")
    os.utime(inbox / "gazette_p2.html", (OLD + 120, OLD + 120))
    changed = run_source(cfg, sqlite_store, "inbox")
    assert changed.stats["ipwarn/files"] == 1 and changed.stats["ipwarn/stat_unchanged"] == 1
    assert changed.counts["new"] > 0
    with sqlite_store.session() as session:
        assert (session.scalar(select(func.count()).select_from(Document)) or 0) > (stored or 0)
        statuses = session.scalars(select(CrawlRun.status)).all()
    assert set(statuses) == {"ok"}


@pytest.mark.slow
def test_same_size_and_mtime_is_trusted_until_full(
    tmp_path: Path, sqlite_store: Store, settings: Settings
) -> None:
    """The rsync rule: same size and mtime is taken as unchanged; ``--full`` reads everything."""
    inbox, cfg = _inbox(tmp_path, sqlite_store, settings, delay=0)
    run_source(cfg, sqlite_store, "inbox")
    page = inbox / "gazette_p1.html"
    data = page.read_bytes()
    title = "一种".encode()
    assert title in data
    page.write_bytes(data.replace(title, "两种".encode(), 1))  # same length in UTF-8
    os.utime(page, (OLD, OLD))
    assert run_source(cfg, sqlite_store, "inbox").stats["ipwarn/stat_unchanged"] == 2
    full = run_source(cfg, sqlite_store, "inbox", full=True)
    assert full.stats["ipwarn/files"] == 2
    assert full.counts["updated"] == 1

"""Run one source's spider as a subprocess with a hard timeout and record it as a CrawlRun.

The parent owns the run record (started, finished, status, error); the child writes the counts
after every file, so even a crawl killed by its timeout reports what it stored.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import subprocess
import sys
from dataclasses import dataclass, field
from typing import Any

from crawlers.child import STATS_PREFIX
from crawlers.health import FAILED_RUN_STATUSES
from crawlers.job import DATABASE_ENV, JOB_ENV, CrawlJob
from warning.config import Settings
from warning.errors import ConfigError, Problem
from warning.lifeline import child_env, process_identity
from warning.logging import get_logger
from warning.store.engine import Store
from warning.store.models import CrawlRun, utcnow

log = get_logger(__name__)

#: after SIGTERM on timeout, Scrapy gets this long to close cleanly before SIGKILL
STOP_GRACE_SECONDS = 10.0
#: crawler statistics worth showing next to the counts
SHOWN_STATS = ("files", "not_modified", "failed_requests", "older_than_since")


@dataclass
class CrawlOutcome:
    source: str
    #: ok | failed | timeout | skipped (held by another run: another process was crawling the
    #: source); a skipped crawl is recorded but is no failure (no streak, no operator alert)
    status: str
    run_id: int
    counts: dict[str, int] = field(default_factory=dict)
    stats: dict[str, Any] = field(default_factory=dict)
    error: str | None = None

    def summary(self) -> str:
        parts = [f"{k}={v}" for k, v in self.counts.items()]
        extra = [f"{k}={self.stats.get('ipwarn/' + k, 0)}" for k in SHOWN_STATS]
        line = f"{self.source}: {self.status} " + " ".join(parts) + " (" + " ".join(extra) + ")"
        return line + (f"\n  error: {self.error}" if self.error else "")


def run_source(
    settings: Settings,
    store: Store,
    name: str,
    *,
    since: dt.date | None = None,
    full: bool = False,
) -> CrawlOutcome:
    """Crawl source ``name`` now; raises :class:`ConfigError` if it is unknown or switched off."""
    config = settings.sources.get(name)
    if config is None:
        known = ", ".join(sorted(settings.sources)) or "none configured"
        raise ConfigError(
            [Problem(f"unknown source (configured: {known})", field=f"sources.{name}")]
        )
    if not config.enabled:
        raise ConfigError(
            [Problem("source is disabled (enabled = false)", field=f"sources.{name}.enabled")]
        )
    logs = settings.data_dir / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    job = CrawlJob.from_source(
        name,
        config,
        since=since,
        full=full,
        log_file=str(logs / f"crawl-{name}.log"),
        log_level=settings.log_level,
    )
    job.check()
    from warning.store.locks import named_lock

    # one crawl of a source at a time: a second waits for the first, then finds files unchanged
    with named_lock(store, f"crawl:{name}", settings.stage_lock_wait_seconds) as held:
        if not held:
            return _skipped(store, name, since, settings.stage_lock_wait_seconds)
        return _crawl(settings, store, job, since)


def _skipped(store: Store, name: str, since: dt.date | None, waited: float) -> CrawlOutcome:
    """Record a crawl that did not run because another process holds the source's lock.

    It is recorded (so that `ipwarn status` can say so) as ``skipped``, which is neither a
    success nor a failure: it neither adds to nor ends the source's failure streak, and no
    operator is alerted (the run holding the lock reports its own outcome).
    """
    reason = f"held by another run: another process is crawling {name} (waited {waited:g} s)"
    now = utcnow()
    with store.session() as session:
        run = CrawlRun(
            source=name,
            started_at=now,
            finished_at=now,
            status="skipped",
            since=since,
            owner=process_identity(),
            error=reason,
        )
        session.add(run)
        session.flush()
        run_id = run.id
    log.info("crawl.skipped", source=name, run_id=run_id, reason=reason)
    return CrawlOutcome(name, "skipped", run_id, error=reason)


def _crawl(settings: Settings, store: Store, job: CrawlJob, since: dt.date | None) -> CrawlOutcome:
    name = job.source
    with store.session() as session:
        run = CrawlRun(
            source=name,
            started_at=utcnow(),
            status="running",
            since=since,
            owner=process_identity(),
        )
        session.add(run)
        session.flush()
        job.run_id = run.id
    assert job.run_id is not None
    log.info("crawl.start", source=name, run_id=job.run_id, kind=job.kind, since=str(since or ""))
    status, error, stats = _nothing_new_locally(job, store) or _run_child(
        job, store.url, _store_env(settings)
    )
    with store.session() as session:
        finished = session.get(CrawlRun, job.run_id)
        assert finished is not None
        run = finished
        run.status = status
        run.finished_at = utcnow()
        run.error = error
        counts = {
            "new": run.new,
            "updated": run.updated,
            "unchanged": run.unchanged,
            "quarantined": run.quarantined,
        }
    counts["new_events"] = int(stats.get("ipwarn/new_events", 0))
    outcome = CrawlOutcome(name, status, job.run_id, counts, stats, error)
    log.info("crawl.done", source=name, status=status, **counts)
    if status in FAILED_RUN_STATUSES:
        from warning.health import notify_failing_sources

        with store.session() as session:
            notify_failing_sources(session, settings, utcnow(), only=name)
    return outcome


def _nothing_new_locally(
    job: CrawlJob, store: Store
) -> tuple[str, str | None, dict[str, Any]] | None:
    """An inbox whose every file has its stored size and mtime: done, without a subprocess.

    Starting Scrapy costs seconds; a steady-state ``run --once`` should not pay them to learn
    that nothing on disk changed.
    """
    if job.kind != "inbox" or job.full:
        return None
    from crawlers.localfiles import all_unchanged

    unchanged = all_unchanged(
        store, job.source, job.base_url, recursive=bool(job.options.get("recursive", False))
    )
    if unchanged is None:
        return None
    log.info("crawl.unchanged", source=job.source, files=unchanged)
    return "ok", None, {"ipwarn/not_modified": unchanged, "ipwarn/stat_unchanged": unchanged}


def _store_env(settings: Settings) -> dict[str, str]:
    """The store settings the crawl subprocess needs (it reads no config file)."""
    from crawlers.pipelines import RETRY_ENV
    from warning.store.engine import BUSY_TIMEOUT_ENV, LOCK_WAIT_ENV

    return {
        BUSY_TIMEOUT_ENV: str(settings.store_busy_timeout_seconds),
        LOCK_WAIT_ENV: str(settings.store_lock_wait_seconds),
        RETRY_ENV: str(settings.store_retry_attempts),
    }


def _run_child(
    job: CrawlJob, database_url: str, extra_env: dict[str, str] | None = None
) -> tuple[str, str | None, dict[str, Any]]:
    # the child dies with us (kill -9 included): it runs in its own session so that a timeout
    # can stop its whole group, which would otherwise leave it running beside the next crawl
    env = child_env(
        {**os.environ, **(extra_env or {}), DATABASE_ENV: database_url, JOB_ENV: job.to_env()}
    )
    process = subprocess.Popen(
        [sys.executable, "-m", "crawlers.child"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    try:
        out, err = process.communicate(timeout=job.timeout_seconds)
    except subprocess.TimeoutExpired:
        _stop(process)
        return (
            "timeout",
            f"crawl exceeded its timeout of {job.timeout_seconds:g} s and was stopped",
            {},
        )
    stats = _stats_from(out)
    if stats.get("ipwarn/store_failed_files"):
        # the file's transaction was rolled back: its documents are not in this run's counts
        return (
            "failed",
            f"{stats['ipwarn/store_failed_files']} file(s) could not be stored "
            f"({stats.get('ipwarn/store_error', 'database error')}); they were not marked "
            "fetched, so the next crawl fetches them again",
            stats,
        )
    if process.returncode != 0:
        tail = err.decode("utf-8", "replace").strip().splitlines()[-5:]
        return (
            "failed",
            f"spider exited with status {process.returncode}: " + " | ".join(tail),
            stats,
        )
    failed = int(stats.get("ipwarn/failed_requests", 0))
    fetched = int(stats.get("ipwarn/files", 0)) + int(stats.get("ipwarn/not_modified", 0))
    if failed and not fetched:
        # nothing came back at all (dead address, DNS, every file refused): a failed crawl
        return (
            "failed",
            f"all {failed} request(s) failed for good, nothing was fetched; see the crawl log",
            stats,
        )
    if failed:
        return (
            "ok",
            f"{stats['ipwarn/failed_requests']} request(s) failed for good; see the crawl log",
            stats,
        )
    return "ok", None, stats


def _stop(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM lets Scrapy close cleanly; SIGKILL after a grace period."""
    try:
        os.killpg(process.pid, signal.SIGTERM)
        process.communicate(timeout=STOP_GRACE_SECONDS)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.communicate()
    except ProcessLookupError:
        pass


def _stats_from(stdout: bytes) -> dict[str, Any]:
    for line in reversed(stdout.decode("utf-8", "replace").splitlines()):
        if line.startswith(STATS_PREFIX):
            try:
                data = json.loads(line[len(STATS_PREFIX) :])
            except ValueError:
                return {}
            return data if isinstance(data, dict) else {}
    return {}

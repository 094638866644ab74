"""`ipwarn serve`: exactly one APScheduler 3.x scheduler per database, jobs kept thin.

APScheduler 3 cannot share a job store between schedulers (jobs would run twice), so jobs live
in memory, built from the config at start-up, and a lock makes any second `serve` a standby:
a PostgreSQL session advisory lock, or an exclusive file lock next to the SQLite database.
Each job runs its stage as a child process (`python -m warning run --stage ...`) with a hard
timeout, so a hung crawl or SMTP server cannot wedge the scheduler; results land in `job_runs`.
"""

from __future__ import annotations

import fcntl
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from apscheduler.events import EVENT_JOB_ERROR, EVENT_JOB_MISSED, JobExecutionEvent
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger
from sqlalchemy import text

from warning.config import Settings
from warning.logging import get_logger
from warning.store.engine import Store
from warning.store.models import JobRun, utcnow

log = get_logger(__name__)

#: any 64-bit number unique to ipwarn; the advisory lock that elects the active scheduler
ADVISORY_LOCK_KEY = 0x1F0A_2009_0ABC


@dataclass(frozen=True)
class JobSpec:
    id: str
    argv: list[str]
    trigger: Any
    timeout: float


def job_specs(settings: Settings) -> list[JobSpec]:
    """The jobs `serve` runs, from the configuration (one crawl job per enabled source)."""
    tz = settings.tz
    timeout = settings.job_timeout_seconds
    specs = []
    for name, source in sorted(settings.sources.items()):
        if source.enabled and source.base_url:
            specs.append(
                JobSpec(
                    f"crawl:{name}",
                    ["run", "--stage", "crawl", "--source", name],
                    CronTrigger.from_crontab(source.cron, timezone=tz),
                    source.timeout_seconds + 60,
                )
            )
    specs += [
        JobSpec(
            "pipeline",
            ["run", "--stage", "classify", "--stage", "index", "--stage", "match"],
            IntervalTrigger(minutes=settings.pipeline_interval_minutes, timezone=tz),
            timeout,
        ),
        JobSpec(
            "deliver",
            ["run", "--stage", "deliver"],
            IntervalTrigger(seconds=settings.deliver_interval_seconds, timezone=tz),
            timeout,
        ),
        JobSpec(
            "digest",
            ["run", "--stage", "digest"],
            CronTrigger.from_crontab(settings.digest_cron, timezone=tz),
            timeout,
        ),
        JobSpec("health", ["health"], IntervalTrigger(minutes=15, timezone=tz), 300),
    ]
    return specs


def run_job(spec: JobSpec, store: Store, config: str | None) -> None:
    """Run one job as a child process with a hard timeout and record the outcome."""
    argv = [sys.executable, "-m", "warning"]
    if config:
        argv += ["--config", config]
    argv += spec.argv
    started = utcnow()
    t0 = time.monotonic()
    status, error = "ok", None
    try:
        proc = subprocess.run(
            argv, capture_output=True, text=True, timeout=spec.timeout, check=False
        )
        if proc.returncode != 0:
            status, error = "failed", (proc.stderr or proc.stdout)[-4000:]
    except subprocess.TimeoutExpired:
        status, error = "timeout", f"killed after {spec.timeout:.0f} s"
    with store.session() as session:
        session.add(
            JobRun(
                job=f"job:{spec.id}",
                started_at=started,
                finished_at=utcnow(),
                status=status,
                error=error,
                detail={"argv": spec.argv, "seconds": round(time.monotonic() - t0, 3)},
            )
        )
    log.info("job.done", job=spec.id, status=status)


@contextmanager
def leadership(
    store: Store, settings: Settings, poll_seconds: float, stop: threading.Event
) -> Iterator[bool]:
    """Hold the scheduler lock for the block; waits as a standby while another holds it."""
    if store.is_sqlite:
        lock_path = Path(settings.data_dir) / "scheduler.lock"
        lock_path.parent.mkdir(parents=True, exist_ok=True)
        handle: IO[str] = lock_path.open("w")
        try:
            while not stop.is_set():
                try:
                    fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    log.info(
                        "scheduler.standby",
                        reason="another ipwarn serve holds the lock",
                        lock=str(lock_path),
                    )
                    stop.wait(poll_seconds)
            yield not stop.is_set()
        finally:
            handle.close()
        return
    with store.engine.connect() as conn:
        while not stop.is_set():
            if conn.execute(
                text("SELECT pg_try_advisory_lock(:k)"), {"k": ADVISORY_LOCK_KEY}
            ).scalar():
                break
            conn.commit()
            log.info("scheduler.standby", reason="another ipwarn serve holds the advisory lock")
            stop.wait(poll_seconds)
        try:
            yield not stop.is_set()
        finally:
            if not conn.closed:
                conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": ADVISORY_LOCK_KEY})
                conn.commit()


def build_scheduler(settings: Settings, store: Store, config: str | None) -> BackgroundScheduler:
    scheduler = BackgroundScheduler(
        timezone=settings.tz,
        job_defaults={
            "coalesce": True,
            "max_instances": 1,
            "misfire_grace_time": settings.misfire_grace_seconds,
        },
    )
    for spec in job_specs(settings):
        scheduler.add_job(
            run_job,
            spec.trigger,
            args=[spec, store, config],
            id=spec.id,
            name=spec.id,
            replace_existing=True,
        )

    def on_event(event: JobExecutionEvent) -> None:
        status = "missed" if event.code == EVENT_JOB_MISSED else "failed"
        with store.session() as session:
            session.add(
                JobRun(
                    job=f"job:{event.job_id}",
                    status=status,
                    finished_at=utcnow(),
                    error=repr(getattr(event, "exception", None)) if status == "failed" else None,
                    detail={"scheduled_run_time": str(event.scheduled_run_time)},
                )
            )
        log.warning("job." + status, job=event.job_id, scheduled=str(event.scheduled_run_time))

    scheduler.add_listener(on_event, EVENT_JOB_MISSED | EVENT_JOB_ERROR)
    return scheduler


def serve(
    settings: Settings,
    store: Store,
    config: str | None,
    *,
    poll_seconds: float = 30.0,
    stop: threading.Event | None = None,
) -> None:
    """Block until SIGTERM/SIGINT (or ``stop``), running the scheduler while we hold the lock."""
    stop = stop or threading.Event()
    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: stop.set())
    with leadership(store, settings, poll_seconds, stop) as leader:
        if not leader:
            return
        scheduler = build_scheduler(settings, store, config)
        scheduler.start()
        log.info(
            "scheduler.started", pid=os.getpid(), jobs=",".join(j.id for j in scheduler.get_jobs())
        )
        while not stop.wait(1.0):
            pass
        log.info("scheduler.stopping", reason="signal")
        scheduler.shutdown(wait=True)
        time.sleep(0)
    log.info("scheduler.stopped")

"""`ipwarn serve`: exactly one APScheduler 3.x scheduler per database, jobs kept thin.

APScheduler 3 cannot share a job store between schedulers (jobs would run twice), so jobs live
in memory, built from the config at start-up, and a lock makes any second `serve` a standby:
a PostgreSQL session advisory lock (held on its own autocommit connection), or an exclusive
file lock next to the SQLite database. The leader checks the lock every
``leader_check_seconds`` and before every job; when it is gone (``pg_terminate_backend``, a
lost connection) the leader stops its scheduler, kills its running jobs and waits as a standby
again, so two schedulers never run jobs at once. Each job runs its stage as a child process
(`python -m warning run --stage ...`) with a hard timeout, in its own process group and tied
to serve's life (:mod:`warning.lifeline`); results land in `job_runs`.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import hashlib
import os
import random
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Protocol

from apscheduler.events import EVENT_JOB_ERROR, EVENT_JOB_MISSED, JobExecutionEvent
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger
from sqlalchemy import Connection, Engine, create_engine, select, text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.pool import NullPool

from warning.config import Settings
from warning.lifeline import child_env, kill_group, process_identity
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


def lock_key(schema: str) -> int:
    """The advisory-lock key: one active scheduler per database *schema* (``public``: the
    historical key), so that installations, or test schemas, sharing a database do not block
    each other."""
    if schema == "public":
        return ADVISORY_LOCK_KEY
    digest = hashlib.sha256(f"ipwarn-scheduler:{schema}".encode()).digest()
    return int.from_bytes(digest[:8], "big") & 0x3FFF_FFFF_FFFF_FFFF


class LeaderLock(Protocol):
    def acquire(self, stop: threading.Event) -> bool:
        """Block (as a standby) until the lock is ours (True) or ``stop`` is set (False)."""
        ...

    def held(self) -> bool:
        """Do we still hold it? Cheap; called on every scheduling tick and before every job."""
        ...

    def release(self) -> None: ...


class FileLock:
    """SQLite: an exclusive ``flock`` on ``<data_dir>/scheduler.lock`` (released on exit)."""

    def __init__(self, settings: Settings, poll_seconds: float) -> None:
        self.path = Path(settings.data_dir) / "scheduler.lock"
        self.poll_seconds = poll_seconds
        self._handle: IO[str] | None = None

    def acquire(self, stop: threading.Event) -> bool:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        handle: IO[str] = self.path.open("w")
        while not stop.is_set():
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                self._handle = handle
                return True
            except BlockingIOError:
                log.info(
                    "scheduler.standby",
                    reason="another ipwarn serve holds the lock",
                    lock=str(self.path),
                )
                stop.wait(self.poll_seconds)
        handle.close()
        return False

    def held(self) -> bool:
        return self._handle is not None and not self._handle.closed

    def release(self) -> None:
        if self._handle is not None:
            self._handle.close()
            self._handle = None


class AdvisoryLock:
    """PostgreSQL: a session advisory lock on a dedicated connection in autocommit mode.

    Autocommit: the connection is never ``idle in transaction``, so it pins no xmin horizon
    (VACUUM can remove dead rows) and ``idle_in_transaction_session_timeout`` leaves it alone.
    :meth:`held` asks ``pg_locks`` on that connection; a terminated backend (the lock went with
    it) or a broken connection reads as "not held". Database errors while waiting reconnect
    with exponential back-off and jitter instead of crashing.
    """

    CHECK = text(
        "SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND granted "
        "AND pid = pg_backend_pid() AND classid::bigint = :hi AND objid::bigint = :lo "
        "AND objsubid = 1)"
    )

    def __init__(self, store: Store, settings: Settings, poll_seconds: float) -> None:
        self.poll_seconds = poll_seconds
        self.retry_max = settings.leader_retry_max_seconds
        self.engine: Engine = create_engine(
            store.url,
            poolclass=NullPool,
            isolation_level="AUTOCOMMIT",
            connect_args={
                "connect_timeout": 10,
                "application_name": f"ipwarn-scheduler-{os.getpid()}",
                # a silent peer is noticed within about a minute even without a query error
                "keepalives": 1,
                "keepalives_idle": 30,
                "keepalives_interval": 10,
                "keepalives_count": 3,
            },
        )
        self.key: int | None = None
        self._conn: Connection | None = None
        self._mutex = threading.Lock()
        self._rng = random.Random()

    def _connection(self) -> Connection:
        if self._conn is None:
            conn = self.engine.connect()
            schema = str(conn.execute(text("SELECT current_schema()")).scalar() or "public")
            self.key = lock_key(schema)
            self._conn = conn
        return self._conn

    def _drop(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(Exception):
                conn.invalidate()
            with contextlib.suppress(Exception):
                conn.close()

    def acquire(self, stop: threading.Event) -> bool:
        failures = 0
        while not stop.is_set():
            try:
                with self._mutex:
                    conn = self._connection()
                    got = conn.execute(
                        text("SELECT pg_try_advisory_lock(:k)"), {"k": self.key}
                    ).scalar()
                failures = 0
                if got:
                    return True
                log.info("scheduler.standby", reason="another ipwarn serve holds the advisory lock")
                stop.wait(self.poll_seconds)
            except SQLAlchemyError as exc:
                with self._mutex:
                    self._drop()
                failures += 1
                delay = min(self.poll_seconds * 2 ** min(failures, 16), self.retry_max)
                delay = delay / 2 + self._rng.uniform(0, delay / 2)
                log.warning(
                    "scheduler.reconnect",
                    error=_first_line(exc),
                    failures=failures,
                    retry_in=round(delay, 2),
                )
                stop.wait(delay)
        return False

    def held(self) -> bool:
        with self._mutex:
            if self._conn is None or self.key is None:
                return False
            try:
                return bool(
                    self._conn.execute(
                        self.CHECK, {"hi": self.key >> 32, "lo": self.key & 0xFFFF_FFFF}
                    ).scalar()
                )
            except SQLAlchemyError as exc:
                log.warning("scheduler.lock_check_failed", error=_first_line(exc))
                self._drop()
                return False

    def release(self) -> None:
        with self._mutex:
            if self._conn is not None and self.key is not None:
                with contextlib.suppress(SQLAlchemyError):
                    self._conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": self.key})
            self._drop()


def _first_line(exc: BaseException) -> str:
    text_ = str(getattr(exc, "orig", None) or exc) or type(exc).__name__
    return text_.strip().splitlines()[0] if text_.strip() else type(exc).__name__


def make_lock(store: Store, settings: Settings, poll_seconds: float) -> LeaderLock:
    if store.is_sqlite:
        return FileLock(settings, poll_seconds)
    return AdvisoryLock(store, settings, poll_seconds)


@contextmanager
def leadership(
    store: Store, settings: Settings, poll_seconds: float, stop: threading.Event
) -> Iterator[bool]:
    """Hold the scheduler lock for the block; waits as a standby while another holds it."""
    lock = make_lock(store, settings, poll_seconds)
    try:
        yield lock.acquire(stop)
    finally:
        lock.release()


class Children:
    """The job processes running now, so that a scheduler that steps down can stop them."""

    def __init__(self) -> None:
        self._procs: set[subprocess.Popen[str]] = set()
        self._mutex = threading.Lock()
        #: set once the scheduler lost the lock: running jobs are killed, new ones too
        self.stopped = False

    def add(self, proc: subprocess.Popen[str]) -> None:
        with self._mutex:
            self._procs.add(proc)
            stopped = self.stopped
        if stopped:
            kill_group(proc.pid)

    def discard(self, proc: subprocess.Popen[str]) -> None:
        with self._mutex:
            self._procs.discard(proc)

    def stop_all(self) -> int:
        """Kill every running job's process group; returns how many there were."""
        with self._mutex:
            self.stopped = True
            procs = list(self._procs)
        for proc in procs:
            kill_group(proc.pid)
        return len(procs)


def _record(store: Store, run_id: int | None, **values: Any) -> int | None:
    """Insert (``run_id`` None) or finish a ``job_runs`` row. A database error is logged, not
    raised: the database may be what just failed, and the scheduler must go on."""
    try:
        with store.session() as session:
            if run_id is None:
                row = JobRun(**values)
                session.add(row)
                session.flush()
                return row.id
            found = session.get(JobRun, run_id)
            if found is not None:
                for key, value in values.items():
                    setattr(found, key, value)
            return run_id
    except SQLAlchemyError as exc:
        log.error("job.record_failed", job=values.get("job", run_id), error=_first_line(exc))
        return run_id


def _child_outcome(store: Store, child: str, after: dt.datetime) -> tuple[str, str | None]:
    """A child that exited 0 was ``skipped`` when every stage or crawl it recorded was (another
    process held its lock): the job's row says so instead of ``ok``. Only the rows started since
    the job began are read (an index range, not the whole history at every job)."""
    try:
        with store.read_session() as session:
            rows = session.execute(
                select(JobRun.status, JobRun.detail, JobRun.error).where(
                    JobRun.started_at >= after, JobRun.owner == child
                )
            ).all()
    except SQLAlchemyError:
        return "ok", None
    if rows and all(r.status == "skipped" for r in rows):
        notes = [r.error or (r.detail or {}).get("note") or "" for r in rows]
        return "skipped", "; ".join(n for n in notes if n) or None
    return "ok", None


def run_job(
    spec: JobSpec,
    store: Store,
    config: str | None,
    lock: LeaderLock | None = None,
    children: Children | None = None,
) -> None:
    """Run one job as a child process with a hard timeout and record the outcome.

    The leader lock is checked first (a scheduler that lost it starts nothing). The child runs
    in its own process group (a timeout or a step-down kills the group) and dies with serve
    (:mod:`warning.lifeline`), so ``kill -9`` of serve leaves no job running.
    """
    if lock is not None and not lock.held():
        log.warning("job.skipped", job=spec.id, reason="this scheduler no longer holds the lock")
        return
    children = children or Children()
    argv = [sys.executable, "-m", "warning"]
    if config:
        argv += ["--config", config]
    argv += spec.argv
    t0 = time.monotonic()
    detail: dict[str, Any] = {"argv": spec.argv, "scheduler_pid": os.getpid()}
    started = utcnow()
    head = {"job": f"job:{spec.id}", "started_at": started, "owner": process_identity()}
    run_id = _record(store, None, status="running", detail=detail, **head)
    status, error = "ok", None
    proc = subprocess.Popen(
        argv,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=child_env(),
        start_new_session=True,
    )
    children.add(proc)
    child = process_identity(proc.pid)
    try:
        out, err = proc.communicate(timeout=spec.timeout)
        if children.stopped:
            status, error = "stopped", "killed: this scheduler lost the leader lock"
        elif proc.returncode != 0:
            status, error = "failed", (err or out)[-4000:]
        else:
            status, error = _child_outcome(store, child, started)
    except subprocess.TimeoutExpired:
        kill_group(proc.pid)
        proc.communicate()
        status, error = "timeout", f"killed after {spec.timeout:.0f} s"
    finally:
        children.discard(proc)
    _record(
        store,
        run_id,
        **(head if run_id is None else {}),  # the first write failed: insert the whole row
        finished_at=utcnow(),
        status=status,
        error=error,
        detail={**detail, "seconds": round(time.monotonic() - t0, 3)},
    )
    log.info("job.done", job=spec.id, status=status)


def build_scheduler(
    settings: Settings,
    store: Store,
    config: str | None,
    lock: LeaderLock | None = None,
    children: Children | None = None,
) -> BackgroundScheduler:
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
            args=[spec, store, config, lock, children],
            id=spec.id,
            name=spec.id,
            replace_existing=True,
        )

    def on_event(event: JobExecutionEvent) -> None:
        status = "missed" if event.code == EVENT_JOB_MISSED else "failed"
        _record(
            store,
            None,
            job=f"job:{event.job_id}",
            status=status,
            finished_at=utcnow(),
            error=repr(getattr(event, "exception", None)) if status == "failed" else None,
            detail={"scheduled_run_time": str(event.scheduled_run_time)},
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
    """Block until SIGTERM/SIGINT (or ``stop``): a standby until we hold the lock, then run the
    scheduler while we do; a lost lock stops our jobs and makes us a standby again."""
    stop = stop or threading.Event()
    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: stop.set())
    lock = make_lock(store, settings, poll_seconds)
    try:
        while lock.acquire(stop) and _lead(settings, store, config, lock, stop):
            # lost: drop the connection and let a standby (polling every poll_seconds) take
            # over first, before competing again as a standby
            lock.release()
            stop.wait(2 * poll_seconds)
    finally:
        lock.release()
    log.info("scheduler.stopped")


def _lead(
    settings: Settings, store: Store, config: str | None, lock: LeaderLock, stop: threading.Event
) -> bool:
    """Run the scheduler while the lock is held; True when it was lost (False: asked to stop)."""
    children = Children()
    scheduler = build_scheduler(settings, store, config, lock, children)
    scheduler.start()
    log.info(
        "scheduler.started", pid=os.getpid(), jobs=",".join(j.id for j in scheduler.get_jobs())
    )
    while not stop.wait(settings.leader_check_seconds):
        if not lock.held():
            log.error(
                "scheduler.lost_leadership",
                pid=os.getpid(),
                action="stopping jobs; waiting as a standby",
            )
            scheduler.shutdown(wait=False)
            killed = children.stop_all()
            log.warning("scheduler.stepped_down", pid=os.getpid(), jobs_killed=killed)
            return True
    log.info("scheduler.stopping", reason="signal")
    scheduler.shutdown(wait=True)
    return False

"""Named cross-process locks, so that two runners never do the same stage at once.

PostgreSQL: a session advisory lock on a connection of its own in autocommit mode (idle, never
"idle in transaction", so it pins no snapshot); the key is derived from the schema and the name.
SQLite: an exclusive ``flock`` on ``<database>.locks/<name>.lock`` next to the database file.
Both are released by the operating system or the server when the holder dies, so a crash
never leaves a stage locked.
"""

from __future__ import annotations

import fcntl
import re
import time
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import text

from warning.logging import get_logger
from warning.store.engine import Store

log = get_logger(__name__)

#: first key of every ipwarn stage advisory lock (the scheduler's leader lock uses another)
ADVISORY_NAMESPACE = 0x1F0A
POLL_SECONDS = 0.2


def _signed32(value: int) -> int:
    return value - (1 << 32) if value >= 1 << 31 else value


def lock_file(store: Store, name: str) -> Path | None:
    """Where the SQLite lock of ``name`` lives (None for an in-memory database)."""
    database = store.engine.url.database
    if not database or database == ":memory:":
        return None
    safe = re.sub(r"[^A-Za-z0-9_.-]+", "_", name)
    return Path(database).with_name(Path(database).name + ".locks") / f"{safe}.lock"


@contextmanager
def named_lock(store: Store, name: str, wait_seconds: float) -> Iterator[bool]:
    """Hold lock ``name`` for the block; yields False (and holds nothing) if another process
    still held it after ``wait_seconds``."""
    if store.is_sqlite:
        with _file_lock(store, name, wait_seconds) as held:
            yield held
    else:
        with _advisory_lock(store, name, wait_seconds) as held:
            yield held


def _waited(name: str, deadline: float, first: list[bool]) -> bool:
    if first[0]:
        log.info("lock.wait", lock=name, reason="another process holds it")
        first[0] = False
    if time.monotonic() >= deadline:
        return False
    time.sleep(POLL_SECONDS)
    return True


@contextmanager
def _file_lock(store: Store, name: str, wait_seconds: float) -> Iterator[bool]:
    path = lock_file(store, name)
    if path is None:
        yield True
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    deadline, first = time.monotonic() + wait_seconds, [True]
    with path.open("a") as handle:
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if not _waited(name, deadline, first):
                    yield False
                    return
        try:
            yield True
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


@contextmanager
def _advisory_lock(store: Store, name: str, wait_seconds: float) -> Iterator[bool]:
    deadline, first = time.monotonic() + wait_seconds, [True]
    with store.engine.connect() as raw:
        conn = raw.execution_options(isolation_level="AUTOCOMMIT")
        schema = conn.execute(text("SELECT current_schema()")).scalar() or ""
        key = _signed32(zlib.crc32(f"{schema}:{name}".encode()))
        params = {"a": ADVISORY_NAMESPACE, "b": key}
        while not conn.execute(text("SELECT pg_try_advisory_lock(:a, :b)"), params).scalar():
            if not _waited(name, deadline, first):
                yield False
                return
        try:
            yield True
        finally:
            if not conn.closed and not conn.invalidated:
                conn.execute(text("SELECT pg_advisory_unlock(:a, :b)"), params)

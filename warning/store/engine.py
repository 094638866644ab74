"""Engine and session set-up for SQLite (embedded default) and PostgreSQL (production).

SQLite: WAL, foreign keys, a busy timeout, and pysqlite's own transaction handling switched
off so that every transaction starts with ``BEGIN IMMEDIATE``: a writer takes the write lock
up front and waits for it (a deferred transaction that read first cannot upgrade while another
writer holds the lock, and fails at once whatever the busy timeout). Waiting longer than the
busy timeout is done here: ``BEGIN IMMEDIATE`` is retried until ``lock_wait_seconds``. Only
:meth:`Store.read_session` begins deferred (readers never wait in WAL mode).
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from warning.errors import StoreError

IMMEDIATE = "ipwarn_sqlite_immediate"
#: defaults of the settings ``store_busy_timeout_seconds`` and ``store_lock_wait_seconds``; the
#: crawl subprocess gets the configured values in these environment variables
BUSY_TIMEOUT_SECONDS = 30.0
LOCK_WAIT_SECONDS = 600.0
BUSY_TIMEOUT_ENV = "IPWARN_STORE_BUSY_TIMEOUT_SECONDS"
LOCK_WAIT_ENV = "IPWARN_STORE_LOCK_WAIT_SECONDS"


def _env_seconds(name: str, default: float) -> float:
    try:
        return float(os.environ[name])
    except (KeyError, ValueError):
        return default


def make_engine(
    url: str,
    *,
    schema: str | None = None,
    busy_timeout_seconds: float | None = None,
    lock_wait_seconds: float | None = None,
    **kwargs: Any,
) -> Engine:
    """Create an engine; ``schema`` sets the PostgreSQL search_path (tests use one per test)."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        busy = busy_timeout_seconds or _env_seconds(BUSY_TIMEOUT_ENV, BUSY_TIMEOUT_SECONDS)
        wait = lock_wait_seconds or _env_seconds(LOCK_WAIT_ENV, LOCK_WAIT_SECONDS)
        if parsed.database and parsed.database != ":memory:":
            folder = Path(parsed.database).parent
            try:
                folder.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise StoreError(
                    f"cannot create the database directory {folder}: {exc.strerror or exc}; "
                    "make it writable by this user or point data_dir (IPWARN_DATA_DIR) elsewhere"
                ) from exc
        engine = create_engine(url, connect_args={"timeout": busy}, **kwargs)
        _configure_sqlite(engine, busy, wait)
        return engine
    connect_args: dict[str, Any] = {"connect_timeout": 10}
    if schema:
        connect_args["options"] = f"-csearch_path={schema}"
    return create_engine(url, connect_args=connect_args, pool_pre_ping=True, **kwargs)


def _configure_sqlite(engine: Engine, busy_seconds: float, wait_seconds: float) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # we emit BEGIN ourselves
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout={int(busy_seconds * 1000)}")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        if not conn.get_execution_options().get(IMMEDIATE, False):
            conn.exec_driver_sql("BEGIN")
            return
        deadline = time.monotonic() + wait_seconds
        while True:
            try:
                conn.exec_driver_sql("BEGIN IMMEDIATE")
                return
            except OperationalError as exc:
                if not is_locked(exc):
                    raise
                if time.monotonic() >= deadline:
                    raise StoreError(
                        f"another process holds the database's write lock (waited "
                        f"{wait_seconds:g} s): {make_url(str(conn.engine.url)).database}; it is "
                        "released when that process commits: run the command again later, or "
                        "raise store_lock_wait_seconds"
                    ) from exc
                # the busy timeout already waited; try again until the deadline


@contextmanager
def writer_connection(engine: Engine) -> Iterator[Connection]:
    """A connection whose transactions begin as writers: on SQLite ``BEGIN IMMEDIATE``, waiting
    for the write lock up to ``lock_wait_seconds`` (the ``begin`` listener above reads the
    option; PostgreSQL has no such listener and ignores it). The one way ipwarn opens a writing
    transaction: :func:`writer_transaction` and :meth:`Store.session` both begin on it."""
    with engine.connect() as conn:
        yield conn.execution_options(**{IMMEDIATE: True})


@contextmanager
def writer_transaction(engine: Engine) -> Iterator[Connection]:
    """``engine.begin()`` that takes SQLite's write lock up front (``BEGIN IMMEDIATE``)."""
    with writer_connection(engine) as conn, conn.begin():
        yield conn


def is_transient(exc: BaseException) -> bool:
    """A database error that says nothing about the data: worth retrying the transaction.

    Locks (SQLite busy), deadlocks and serialization failures, lost or terminated connections,
    and unique-key races with a concurrent writer. Not: bad values (``DataError``), schema or
    code errors (``ProgrammingError``), or a lock wait that already ran out (``StoreError``).
    """
    from sqlalchemy.exc import DBAPIError, IntegrityError, InterfaceError

    if isinstance(exc, (OperationalError, InterfaceError, IntegrityError)):
        return True
    return isinstance(exc, DBAPIError) and bool(exc.connection_invalidated)


def is_locked(exc: BaseException) -> bool:
    """SQLite's "database is locked" / "database table is locked" (SQLITE_BUSY, SQLITE_LOCKED)."""
    return "database is locked" in str(exc) or "database table is locked" in str(exc)


class Store:
    """The database behind ipwarn: an engine plus session factories."""

    def __init__(
        self,
        url: str,
        *,
        schema: str | None = None,
        echo: bool = False,
        busy_timeout_seconds: float | None = None,
        lock_wait_seconds: float | None = None,
    ) -> None:
        self.url = url
        self.engine = make_engine(
            url,
            schema=schema,
            echo=echo,
            busy_timeout_seconds=busy_timeout_seconds,
            lock_wait_seconds=lock_wait_seconds,
        )
        self.dialect = self.engine.dialect.name
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)

    @classmethod
    def from_settings(cls, settings: Any) -> Store:
        return cls(
            settings.effective_database_url,
            busy_timeout_seconds=getattr(settings, "store_busy_timeout_seconds", None),
            lock_wait_seconds=getattr(settings, "store_lock_wait_seconds", None),
        )

    @property
    def is_sqlite(self) -> bool:
        return self.dialect == "sqlite"

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A unit of work: committed on success, rolled back on error.

        On SQLite it begins as a writer (``BEGIN IMMEDIATE``, waiting for the lock); use
        :meth:`read_session` for work that only reads.
        """
        with (
            writer_connection(self.engine) as conn,
            Session(bind=conn, expire_on_commit=False) as session,
            session.begin(),
        ):
            yield session

    #: rows are read and then claimed: the same as :meth:`session` (the name says why)
    write_session = session

    @contextmanager
    def read_session(self) -> Iterator[Session]:
        """A read-only unit of work: on SQLite a deferred ``BEGIN``, so it never waits for writers."""
        with self._sessions() as session, session.begin():
            yield session

    def check(self) -> None:
        """Raise :class:`StoreError` naming the URL when the database cannot be reached."""
        try:
            with self.engine.connect() as conn:
                conn.execute(text("SELECT 1"))
        except OperationalError as exc:
            raise StoreError(describe_store_error(exc, self.url)) from exc

    def dispose(self) -> None:
        self.engine.dispose()


def describe_store_error(exc: BaseException, url: str | None = None) -> str:
    """What happened to the database and what to do, for a SQLAlchemy/DBAPI error."""
    orig = getattr(exc, "orig", None) or exc
    detail = (str(orig).strip().splitlines() or [type(orig).__name__])[0]
    where = f" {make_url(url).render_as_string(hide_password=True)}" if url else ""
    lowered = str(orig).lower()
    if getattr(exc, "connection_invalidated", False) or any(
        s in lowered
        for s in (
            "terminating connection",
            "server closed the connection",
            "connection is closed",
            "connection already closed",
            "ssl connection has been closed",
            "consuming input failed",
        )
    ):
        return (
            f"the connection to the database{where} was lost ({detail}); the transaction was "
            "rolled back, nothing half-done was kept: run the command again once the database "
            "server is back (check that it is running)"
        )
    if is_locked(orig):
        return (
            f"another process holds the database's write lock{where} ({detail}); run the "
            "command again when it has finished, or raise store_lock_wait_seconds"
        )
    if "permission denied" in lowered or "readonly database" in lowered:
        return (
            f"permission denied on the database{where} ({detail}); make the database file and "
            "its directory writable by this user, or grant the database user write rights"
        )
    if "unable to open database file" in lowered:
        return (
            f"cannot open the database file{where} ({detail}); check that data_dir "
            "(IPWARN_DATA_DIR) exists and is writable by this user"
        )
    if any(s in lowered for s in ("no such table", "does not exist", "undefinedtable")):
        return f"the database{where} has no ipwarn schema ({detail}); run `ipwarn db upgrade`"
    if any(
        s in lowered
        for s in (
            "connection refused",
            "could not connect",
            "could not translate host",
            "timeout expired",
            "timed out",
        )
    ):
        return (
            f"cannot reach the database{where} ({detail}); check that the server is running "
            "and that IPWARN_DATABASE_URL names it"
        )
    return f"database error{where}: {detail}"

"""Engine and session set-up for SQLite (embedded default) and PostgreSQL (production).

SQLite: WAL, foreign keys, a busy timeout, and pysqlite's own transaction handling switched
off so that a session can start with ``BEGIN IMMEDIATE`` (the outbox claims rows that way,
since SQLite ignores ``FOR UPDATE SKIP LOCKED``).
"""

from __future__ import annotations

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


def make_engine(url: str, *, schema: str | None = None, **kwargs: Any) -> Engine:
    """Create an engine; ``schema`` sets the PostgreSQL search_path (tests use one per test)."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            folder = Path(parsed.database).parent
            try:
                folder.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise StoreError(
                    f"cannot create {folder} for the SQLite database: "
                    f"{exc.strerror or type(exc).__name__}; check data_dir or IPWARN_DATABASE_URL"
                ) from exc
        engine = create_engine(url, connect_args={"timeout": 30}, **kwargs)
        _configure_sqlite(engine)
        return engine
    connect_args: dict[str, Any] = {"connect_timeout": 10}
    if schema:
        connect_args["options"] = f"-csearch_path={schema}"
    return create_engine(url, connect_args=connect_args, pool_pre_ping=True, **kwargs)


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # we emit BEGIN ourselves
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        immediate = conn.get_execution_options().get(IMMEDIATE, False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


class Store:
    """The database behind ipwarn: an engine plus session factories."""

    def __init__(self, url: str, *, schema: str | None = None, echo: bool = False) -> None:
        self.url = url
        self.engine = make_engine(url, schema=schema, echo=echo)
        self.dialect = self.engine.dialect.name
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)

    @classmethod
    def from_settings(cls, settings: Any) -> Store:
        return cls(settings.effective_database_url)

    @property
    def is_sqlite(self) -> bool:
        return self.dialect == "sqlite"

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A unit of work: committed on success, rolled back on error."""
        with self._sessions() as session, session.begin():
            yield session

    @contextmanager
    def write_session(self) -> Iterator[Session]:
        """A unit of work that takes SQLite's write lock up front (``BEGIN IMMEDIATE``).

        Use it where rows are read and then claimed, so two processes cannot claim the same
        row. On PostgreSQL it is an ordinary transaction; claim with ``FOR UPDATE SKIP LOCKED``.
        """
        with self.engine.connect() as conn:
            if self.is_sqlite:
                conn = conn.execution_options(**{IMMEDIATE: True})
            with Session(bind=conn, expire_on_commit=False) as session, session.begin():
                yield session

    def check(self) -> None:
        """Raise :class:`StoreError` naming the URL when the database cannot be reached."""
        try:
            with self.engine.connect() as conn:
                conn.execute(text("SELECT 1"))
        except OperationalError as exc:
            safe = make_url(self.url).render_as_string(hide_password=True)
            raise StoreError(
                f"cannot reach the database {safe}: {exc.orig}; check IPWARN_DATABASE_URL"
            ) from exc

    def dispose(self) -> None:
        self.engine.dispose()

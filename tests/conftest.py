"""Shared fixtures: a store on every backend, settings in a temporary data directory.

``store`` is parametrised over SQLite (a WAL file in tmp_path) and PostgreSQL (127.0.0.1:5432,
database ``test``, one schema per test, dropped afterwards). PostgreSQL cases skip with the
reason when no server answers; set IPWARN_TEST_PG_URL to use another server.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from warning.config import Settings, load_settings
from warning.store import migrate
from warning.store.engine import Store

PG_URL = os.environ.get("IPWARN_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
FIXTURES = Path(__file__).parent / "fixtures"

_pg_reason: str | None = None
_pg_checked = False


def postgres_unavailable() -> str | None:
    """None when PostgreSQL answers, else the reason to skip."""
    global _pg_checked, _pg_reason
    if not _pg_checked:
        _pg_checked = True
        try:
            engine = create_engine(PG_URL, connect_args={"connect_timeout": 3})
            with engine.connect() as conn:
                conn.execute(text("SELECT 1"))
            engine.dispose()
        except Exception as exc:
            _pg_reason = (
                f"PostgreSQL not reachable at {PG_URL}: {type(exc).__name__}: {exc}".splitlines()[0]
            )
    return _pg_reason


def _pg_store(create: bool = True) -> Iterator[Store]:
    reason = postgres_unavailable()
    if reason:
        pytest.skip(reason)
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(PG_URL)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    # the search_path rides in the URL, so settings and crawl subprocesses see the same schema
    store = Store(f"{PG_URL}?options=-csearch_path%3D{schema}")
    if create:
        migrate.upgrade(store.engine)
    try:
        yield store
    finally:
        store.dispose()
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def _sqlite_store(tmp_path: Path, create: bool = True) -> Iterator[Store]:
    store = Store(f"sqlite:///{tmp_path / 'ipwarn.db'}")
    if create:
        migrate.upgrade(store.engine)
    try:
        yield store
    finally:
        store.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    """A migrated-schema store on each backend."""
    if request.param == "sqlite":
        yield from _sqlite_store(tmp_path)
    else:
        yield from _pg_store()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def empty_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    """A store on each backend with no tables (for migration tests)."""
    if request.param == "sqlite":
        yield from _sqlite_store(tmp_path, create=False)
    else:
        yield from _pg_store(create=False)


@pytest.fixture
def sqlite_store(tmp_path: Path) -> Iterator[Store]:
    yield from _sqlite_store(tmp_path)


@pytest.fixture
def settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """Settings with a private data directory and no config file or IPWARN_* leaking in."""
    for key in list(os.environ):
        if key.startswith("IPWARN_") and not key.startswith("IPWARN_TEST_"):
            monkeypatch.delenv(key)
    monkeypatch.chdir(tmp_path)
    return load_settings(None, data_dir=tmp_path / "var")


def settings_for(store: Store, base: Settings) -> Settings:
    """``base`` pointed at ``store``'s database (PostgreSQL schema included)."""
    return base.model_copy(update={"database_url": store.url})

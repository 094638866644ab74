"""One way to open a writing transaction: `Store.session()` and `writer_transaction()` alike.

On SQLite both begin as writers (``BEGIN IMMEDIATE``): the write lock is taken by the first
statement, a read included, so a read-then-write transaction never fails to upgrade; a second
writer waits up to ``lock_wait_seconds`` and then says who holds the lock, while readers go on.
On both databases both commit on success and roll back on error.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any

import pytest
from sqlalchemy import func, select, text

from warning.errors import StoreError
from warning.store.engine import Store, writer_transaction
from warning.store.models import AppState, utcnow

Opener = Callable[[Store], AbstractContextManager[Any]]
OPENERS: dict[str, Opener] = {
    "session": lambda store: store.session(),
    "writer_transaction": lambda store: writer_transaction(store.engine),
}


@pytest.mark.parametrize("holder", list(OPENERS))
def test_a_reading_writer_holds_the_write_lock_and_a_second_writer_says_so(
    sqlite_store: Store, holder: str
) -> None:
    other = Store(sqlite_store.url, lock_wait_seconds=0.3, busy_timeout_seconds=0.1)
    try:
        with OPENERS[holder](sqlite_store) as first:
            first.execute(text("SELECT count(*) FROM app_state"))  # a read begins the writer
            for name, opener in OPENERS.items():
                with (
                    pytest.raises(StoreError, match="holds the database's write lock"),
                    opener(other) as second,
                ):
                    second.execute(text("SELECT 1"))
                    pytest.fail(f"{name} began while {holder} held the write lock")
            with other.read_session() as reader:  # readers never wait for a writer
                assert reader.execute(text("SELECT 1")).scalar() == 1
    finally:
        other.dispose()


@pytest.mark.parametrize("opener", list(OPENERS))
def test_writers_commit_on_success_and_roll_back_on_error(store: Store, opener: str) -> None:
    def write(conn: Any, key: str) -> None:
        conn.execute(
            AppState.__table__.insert().values(key=key, value={"v": 1}, updated_at=utcnow())
        )

    with OPENERS[opener](store) as conn:
        write(conn, "kept")
    with pytest.raises(RuntimeError), OPENERS[opener](store) as conn:
        write(conn, "dropped")
        raise RuntimeError("the unit of work failed")
    with store.read_session() as session:
        keys = session.scalars(select(AppState.key)).all()
        assert keys == ["kept"], keys
        assert session.scalar(select(func.count()).select_from(AppState)) == 1

"""Dialect-aware ``INSERT ... ON CONFLICT`` helpers (rowcount is -1 on PostgreSQL: use RETURNING)."""

from __future__ import annotations

from typing import Any

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session


def dialect_insert(session: Session, table: Any) -> Any:
    """``table``: a Table or a mapped class's ``__table__``."""
    name = session.get_bind().dialect.name
    if name == "postgresql":
        return postgresql.insert(table)
    if name == "sqlite":
        return sqlite.insert(table)
    raise NotImplementedError(f"unsupported database dialect {name!r}; use SQLite or PostgreSQL")


def insert_ignore_returning_id(
    session: Session, table: Any, values: dict[str, Any], conflict: list[str]
) -> int | None:
    """Insert a row unless its key exists; the new id, or None when the row was already there."""
    stmt = dialect_insert(session, table).values(**values)
    stmt = stmt.on_conflict_do_nothing(index_elements=conflict).returning(table.c.id)
    return session.execute(stmt).scalar_one_or_none()

"""Programmatic Alembic: `ipwarn db upgrade` and the tests use the same code."""

from __future__ import annotations

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, inspect, text

from warning.errors import StoreError
from warning.store.engine import writer_transaction

#: tables a migration creates outside the ORM classes: SQLite's FTS5 search table and its
#: shadow tables (search_fts_data, _idx, _docsize, _config), PostgreSQL's search postings
#: (kept by a trigger); autogenerate must not drop them
UNMAPPED_TABLE_PREFIXES = ("search_fts", "search_postings")


def include_name(name: str | None, type_: str, parent_names: object) -> bool:
    """Alembic ``include_name`` hook: skip the unmapped tables above when comparing schemas."""
    return not (type_ == "table" and name is not None and name.startswith(UNMAPPED_TABLE_PREFIXES))


def alembic_config(engine: Engine) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", "warning:migrations")
    cfg.set_main_option(
        "sqlalchemy.url", engine.url.render_as_string(hide_password=False).replace("%", "%%")
    )
    return cfg


#: PostgreSQL tables whose rows migrations and index rebuilds rewrite wholesale; search reads
#: them by index-only scans, which visit the heap until VACUUM has set the visibility map
BULK_REWRITTEN_TABLES = ("search_index", "search_postings")


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Migrate to ``revision``; on SQLite under the write lock, so two first uses do not race."""
    cfg = alembic_config(engine)
    before = current_revision(engine)
    with writer_transaction(engine) as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, revision)
    if current_revision(engine) != before:
        vacuum_analyze(engine)


def vacuum_analyze(engine: Engine, tables: tuple[str, ...] = BULK_REWRITTEN_TABLES) -> None:
    """``VACUUM ANALYZE`` the tables just rewritten (PostgreSQL only), so the operator has no
    step to remember after `ipwarn db upgrade` or `ipwarn search-index rebuild`. VACUUM cannot
    run in a transaction: its own autocommit connection."""
    if engine.dialect.name != "postgresql":
        return
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        present = set(inspect(conn).get_table_names())
        for table in tables:
            if table in present:
                conn.execute(text(f"VACUUM ANALYZE {table}"))


def downgrade(engine: Engine, revision: str) -> None:
    cfg = alembic_config(engine)
    with writer_transaction(engine) as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, revision)


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def head_revision(engine: Engine) -> str | None:
    return ScriptDirectory.from_config(alembic_config(engine)).get_current_head()


def ensure_current(engine: Engine) -> None:
    """The one schema rule of every command: SQLite migrates itself, PostgreSQL is refused.

    The embedded SQLite database is brought to the code's schema on first use (and after an
    upgrade of ipwarn); a PostgreSQL database behind the code raises :class:`StoreError`
    ("run `ipwarn db upgrade`"): production schema changes are an operator's decision.
    """
    current, head = current_revision(engine), head_revision(engine)
    if current == head:
        return
    if engine.dialect.name == "sqlite" and _known(engine, current):
        upgrade(engine)
        return
    require_current(engine)


def known_revisions(engine: Engine) -> list[str]:
    """Every revision of this ipwarn, oldest first."""
    script = ScriptDirectory.from_config(alembic_config(engine))
    return [r.revision for r in reversed(list(script.walk_revisions()))]


def _known(engine: Engine, revision: str | None) -> bool:
    return revision is None or revision in known_revisions(engine)


def require_current(engine: Engine) -> None:
    """Refuse to work on a database that is behind the code's schema."""
    current, head = current_revision(engine), head_revision(engine)
    if current != head:
        if not _known(engine, current):
            raise StoreError(
                f"database schema is at {current}, which this ipwarn does not know (written by "
                f"a newer ipwarn?); this ipwarn needs {head}"
            )
        raise StoreError(
            f"database schema is at {current or 'nothing'} but this ipwarn needs {head}; "
            "run `ipwarn db upgrade`"
        )

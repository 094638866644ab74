import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect

from warning.errors import StoreError
from warning.store import migrate
from warning.store.models import Base


def test_upgrade_creates_exactly_the_model_schema_and_downgrades(empty_store):
    engine = empty_store.engine
    with pytest.raises(StoreError, match="ipwarn db upgrade"):
        migrate.require_current(engine)
    migrate.upgrade(engine)
    migrate.upgrade(engine)  # idempotent
    assert migrate.current_revision(engine) == migrate.head_revision(engine)
    migrate.require_current(engine)
    with engine.connect() as conn:
        diff = compare_metadata(
            MigrationContext.configure(
                conn, opts={"compare_type": True, "include_name": migrate.include_name}
            ),
            Base.metadata,
        )
    assert diff == [], f"models and migrations disagree: {diff}"
    migrate.downgrade(engine, "base")
    assert "documents" not in inspect(engine).get_table_names()
    migrate.upgrade(engine)
    assert "documents" in inspect(engine).get_table_names()


def test_migration_history_is_linear():
    from alembic.script import ScriptDirectory

    from warning.store.engine import make_engine

    script = ScriptDirectory.from_config(migrate.alembic_config(make_engine("sqlite://")))
    assert len(script.get_heads()) == 1, (
        "two migration heads: add a merge or re-point down_revision"
    )

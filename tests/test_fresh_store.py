"""Issue 13 item 1: one schema rule for every command that touches the store.

A fresh SQLite data directory is migrated by whichever command comes first; a PostgreSQL
database behind the code is refused with "run `ipwarn db upgrade`" (exit 3), never a
traceback; a data directory that cannot be created gets a message naming it (exit 2).
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import _pg_store
from tests.rules_support import run_cli
from warning.store import migrate
from warning.store.engine import Store

CLASSIFIER_FIXTURE = Path(__file__).parent / "fixtures" / "classifier"
SUBSCRIPTIONS = Path(__file__).resolve().parents[1] / "rules" / "examples" / "subscriptions.yaml"

#: every command that reads or writes the store (argument lists for `ipwarn`)
STORE_COMMANDS: list[list[str]] = [
    ["status"],
    ["health"],
    ["outbox"],
    ["outbox", "--dead"],
    ["deliver"],
    ["run", "--stage", "deliver"],
    ["subscriptions", "list"],
    ["subscriptions", "import", str(SUBSCRIPTIONS)],
    ["rules", "list"],
    ["rules", "sync"],
    ["rules", "activate", "no-such-rule", "1"],
    ["rules", "test", "RULES", "--since", "2019-07-01", "--until", "2019-07-31"],
    ["digest", "list"],
    ["digest", "show", "1"],
    ["digest", "build", "--week", "2019-W28"],
    ["silence", "list"],
    ["silence", "add", "--rule", "x", "--for", "1d"],
    ["subscriptions", "unsubscribe", "nobody"],
    ["quarantine", "retry", "all"],
    ["alerts"],
    ["quarantine", "list"],
    ["model", "activate", "no-such-version"],
    ["rules", "retire", "no-such-rule", "1"],
    ["digest", "approve", "1", "--by", "reviewer"],
    ["digest", "send", "1"],
]
#: commands that would keep running on a healthy store: checked on PostgreSQL only
PG_ONLY: list[list[str]] = [
    ["serve"],
    ["run"],
    ["model", "train", "--data-dir", str(CLASSIFIER_FIXTURE), "--from-store"],
]


@pytest.fixture
def empty_pg() -> Iterator[Store]:
    """A PostgreSQL schema with no tables (the SQLite case has its own test below)."""
    yield from _pg_store(create=False)


def _argv(argv: list[str]) -> list[str]:
    from rules.stage import rules_dir
    from warning.config import load_settings

    path = str(rules_dir(load_settings(None)))
    return [path if a == "RULES" else a for a in argv]


def _ids(argv: list[str]) -> str:
    return " ".join(a if "/" not in a else Path(a).name for a in argv)


@pytest.mark.postgres
@pytest.mark.parametrize("argv", STORE_COMMANDS + PG_ONLY, ids=_ids)
def test_every_command_refuses_a_postgres_database_that_is_not_upgraded(
    argv, settings, empty_pg, monkeypatch, capsys
):
    empty_store = empty_pg
    monkeypatch.setenv("IPWARN_DATABASE_URL", empty_store.url)
    monkeypatch.setenv("IPWARN_DATA_DIR", str(settings.data_dir))
    code, out, err = run_cli(_argv(argv), capsys)
    assert code == 3, out + err
    assert "run `ipwarn db upgrade`" in err
    assert "Traceback" not in out + err and "UndefinedTable" not in out + err
    assert migrate.current_revision(empty_store.engine) is None


@pytest.mark.postgres
def test_the_refusal_is_the_only_line_an_operator_sees(settings, empty_pg, tmp_path):
    """As a shell runs it (logging configured as in production): one line on stderr, no
    library's log lines around it (alembic 1.17+ logs a line per plugin at every check)."""
    env = {**os.environ, "IPWARN_DATABASE_URL": empty_pg.url, "IPWARN_DATA_DIR": str(tmp_path)}
    done = subprocess.run(
        [sys.executable, "-m", "warning", "subscriptions", "import", str(SUBSCRIPTIONS)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 3, done.stderr
    assert done.stderr.strip().splitlines() == [
        "error: database schema is at nothing but this ipwarn needs "
        f"{migrate.head_revision(empty_pg.engine)}; run `ipwarn db upgrade`"
    ]


@pytest.mark.parametrize("argv", STORE_COMMANDS, ids=_ids)
def test_every_command_migrates_a_fresh_sqlite_store(argv, settings, monkeypatch, capsys):
    data_dir = settings.data_dir / "fresh"
    monkeypatch.setenv("IPWARN_DATA_DIR", str(data_dir))
    code, out, err = run_cli(_argv(argv), capsys)
    assert "no such table" not in out + err
    assert "Traceback" not in out + err
    # unknown ids are refused cleanly (exit 2, or 1 for a missing model); the rest just works
    assert code in (0, 1, 2), out + err
    assert code == 0 or "error: " in err
    store = Store(f"sqlite:///{data_dir / 'ipwarn.db'}")
    try:
        assert migrate.current_revision(store.engine) == migrate.head_revision(store.engine)
    finally:
        store.dispose()


def test_subscriptions_import_is_a_working_first_step_on_sqlite(settings, monkeypatch, capsys):
    monkeypatch.setenv("IPWARN_DATA_DIR", str(settings.data_dir / "first"))
    code, out, err = run_cli(["subscriptions", "import", str(SUBSCRIPTIONS)], capsys)
    assert code == 0, out + err
    assert "enterprises: " in out and " new" in out
    code, out, _ = run_cli(["subscriptions", "list"], capsys)
    assert code == 0 and "ansteel" in out


@pytest.mark.parametrize("argv", [["status"], ["subscriptions", "list"], ["db", "upgrade"]])
def test_a_data_dir_that_cannot_be_created_is_named(argv, settings, monkeypatch, capsys):
    blocker = settings.data_dir.parent / "a-file"
    blocker.write_text("not a directory")
    monkeypatch.setenv("IPWARN_DATA_DIR", str(blocker / "var"))
    code, out, err = run_cli(argv, capsys)
    assert code == 2, out + err
    assert "data_dir" in err and str(blocker / "var") in err
    assert "Traceback" not in err and "FileNotFoundError" not in err


@pytest.mark.postgres
def test_db_current_and_upgrade_work_on_an_empty_postgres_database(
    settings, empty_pg, monkeypatch, capsys
):
    monkeypatch.setenv("IPWARN_DATABASE_URL", empty_pg.url)
    code, out, err = run_cli(["db", "current"], capsys)
    assert code == 0 and "database: empty" in out, err
    code, out, err = run_cli(["db", "upgrade"], capsys)
    assert code == 0 and "empty -> " in out, err
    code, out, err = run_cli(["status"], capsys)
    assert code == 0, err

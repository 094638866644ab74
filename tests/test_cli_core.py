import json
import subprocess
import sys

from click.testing import CliRunner

from tests.conftest import settings_for
from warning.cli import LAZY_COMMANDS, cli
from warning.config import Settings
from warning.pipeline import STAGES, StageContext, StageResult, run_once
from warning.store import migrate


def test_help_lists_every_command_with_a_description():
    out = subprocess.run(
        [sys.executable, "-m", "warning", "--help"], capture_output=True, text=True, check=True
    ).stdout
    for name, (_, description) in LAZY_COMMANDS.items():
        assert name in out
        assert description.split()[0] in out


def test_every_lazy_command_resolves_to_a_real_click_command():
    import importlib

    import click

    for name, (target, _) in LAZY_COMMANDS.items():
        module, _, attr = target.partition(":")
        command = getattr(importlib.import_module(module), attr)
        assert isinstance(command, click.Command), name


def test_run_once_prints_summary_and_records_history(settings, store):
    s: Settings = settings_for(store, settings)
    result = CliRunner().invoke(
        cli,
        ["run", "--once", "--stage", "crawl", "--json"],
        obj=None,
        env={"IPWARN_DATABASE_URL": s.effective_database_url, "IPWARN_DATA_DIR": str(s.data_dir)},
    )
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    assert list(summary) == ["crawl"]
    status = CliRunner().invoke(
        cli, ["status", "--json"], env={"IPWARN_DATABASE_URL": s.effective_database_url}
    )
    assert status.exit_code == 0, status.output
    jobs = json.loads(status.stdout)["jobs"]
    assert jobs[0]["job"] == "stage:crawl"
    assert jobs[0]["status"] == summary["crawl"]["status"]


def test_a_failing_stage_is_recorded_and_the_others_still_run(settings, store, monkeypatch):
    import warning.pipeline as pipeline

    def boom(ctx):
        raise RuntimeError("disk on fire")

    def fine(ctx):
        return StageResult(counts={"done": 1})

    monkeypatch.setattr(pipeline, "resolve_stage", lambda name: boom if name == "crawl" else fine)
    results = run_once(StageContext(settings=settings_for(store, settings), store=store))
    assert results["crawl"].status == "failed" and "disk on fire" in results["crawl"].note
    assert all(results[n].status == "ok" for n in STAGES if n != "crawl")


def test_postgres_database_must_be_upgraded_explicitly(settings, empty_store):
    if empty_store.is_sqlite:
        # the embedded database migrates itself on first use
        result = CliRunner().invoke(cli, ["status"], env={"IPWARN_DATABASE_URL": empty_store.url})
        assert result.exit_code == 0, result.output
        assert migrate.current_revision(empty_store.engine) == migrate.head_revision(
            empty_store.engine
        )
    else:
        proc = subprocess.run(
            [sys.executable, "-m", "warning", "status"],
            capture_output=True,
            text=True,
            env={"IPWARN_DATABASE_URL": empty_store.url, "PATH": "/usr/bin"},
        )
        assert proc.returncode == 3
        assert "run `ipwarn db upgrade`" in proc.stderr
        up = subprocess.run(
            [sys.executable, "-m", "warning", "db", "upgrade"],
            capture_output=True,
            text=True,
            env={"IPWARN_DATABASE_URL": empty_store.url, "PATH": "/usr/bin"},
        )
        assert up.returncode == 0, up.stderr
        assert f"empty -> {migrate.head_revision(empty_store.engine)}" in up.stdout

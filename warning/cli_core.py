"""Core commands: db, config, run, serve, status, health."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import click
from alembic.util import CommandError

from warning.app import App
from warning.errors import InputError, Problem
from warning.pipeline import STAGES, StageContext, StageResult, run_once
from warning.store import migrate
from warning.store.models import utcnow

pass_app = click.pass_obj


@click.group()
def db() -> None:
    """Create or migrate the database schema (Alembic)."""


@db.command("upgrade")
@click.option("--revision", default="head", show_default=True)
@pass_app
def db_upgrade(app: App, revision: str) -> None:
    """Migrate the database to the newest schema (safe to repeat)."""
    store = app.raw_store
    known = migrate.known_revisions(store.engine)
    if revision != "head" and revision not in known:
        raise InputError(
            [
                Problem(
                    f"unknown revision {revision!r}; known: head, {', '.join(known)}",
                    field="--revision",
                )
            ],
            hint="Nothing was migrated.",
        )
    before = migrate.current_revision(store.engine)
    try:
        migrate.upgrade(store.engine, revision)
    except CommandError as exc:  # alembic's own refusal (a database ahead of this ipwarn)
        raise InputError([Problem(str(exc), field="--revision")]) from exc
    after = migrate.current_revision(store.engine)
    click.echo(
        f"database {store.engine.url.render_as_string(hide_password=True)}: "
        f"{before or 'empty'} -> {after}"
    )


@db.command("current")
@pass_app
def db_current(app: App) -> None:
    """Print the schema revision of the database and of this ipwarn."""
    store = app.raw_store
    click.echo(f"database: {migrate.current_revision(store.engine) or 'empty'}")
    click.echo(f"code:     {migrate.head_revision(store.engine)}")


@click.group(invoke_without_command=True)
@click.pass_context
def config(ctx: click.Context) -> None:
    """Show the effective configuration, secrets masked."""
    if ctx.invoked_subcommand is None:
        ctx.invoke(config_show)


@config.command("show")
@pass_app
def config_show(app: App) -> None:
    """Print the effective settings as JSON (secrets shown as '**********').

    The first line (on stderr, so the JSON stays pipeable) names the file they came from.
    """
    data = app.settings.redacted()
    source = app.config_file
    data["config_file"] = str(source.resolve()) if source else None
    click.echo(
        f"config file: {source.resolve()}"
        if source
        else "config file: none (defaults and IPWARN_* environment variables)",
        err=True,
    )
    click.echo(json.dumps(data, ensure_ascii=False, indent=2))


def _fmt_counts(counts: dict[str, Any]) -> str:
    return " ".join(f"{k}={v}" for k, v in counts.items()) or "-"


def print_summary(results: dict[str, StageResult]) -> None:
    rows = [("stage", "status", "counts", "note")]
    rows += [(name, r.status, _fmt_counts(r.counts), r.note) for name, r in results.items()]
    widths = [max(len(str(row[i])) for row in rows) for i in range(3)]
    for row in rows:
        click.echo(
            "  ".join(str(c).ljust(w) for c, w in zip(row[:3], widths, strict=False))
            + "  "
            + row[3]
        )
    outputs = [p for r in results.values() for p in r.outputs]
    if outputs:
        click.echo("\noutputs:")
        for path in outputs:
            click.echo(f"  {path}")


@click.command()
@click.option(
    "--once", is_flag=True, default=True, help="Run every stage once and exit (the default)."
)
@click.option(
    "--stage",
    "stages",
    multiple=True,
    type=click.Choice(list(STAGES)),
    help="Only these stages (repeatable), in pipeline order.",
)
@click.option("--source", "sources", multiple=True, help="Only crawl these sources (repeatable).")
@click.option("--force", is_flag=True, help="Run time-gated stages (digest) even when not due.")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
@pass_app
def run(
    app: App,
    once: bool,
    stages: tuple[str, ...],
    sources: tuple[str, ...],
    force: bool,
    as_json: bool,
) -> None:
    """Run the pipeline stages once, in order, and print a summary table."""
    ordered = [s for s in STAGES if not stages or s in stages]
    ctx = StageContext(
        settings=app.settings,
        store=app.store,
        now=utcnow(),
        sources=list(sources) or None,
        force=force,
    )
    results = run_once(ctx, ordered)
    if as_json:
        click.echo(
            json.dumps({k: vars(v) for k, v in results.items()}, ensure_ascii=False, default=str)
        )
    else:
        print_summary(results)
    if any(r.status == "failed" for r in results.values()):
        raise SystemExit(1)


@click.command()
@click.option(
    "--poll-seconds", default=30.0, show_default=True, help="How often a standby retries the lock."
)
@click.pass_context
def serve(ctx: click.Context, poll_seconds: float) -> None:
    """Run the scheduler until SIGTERM; a second `serve` on the same database waits as standby."""
    from warning.scheduler import serve as serve_forever

    app: App = ctx.obj
    config_path = ctx.find_root().params.get("config_path")
    serve_forever(app.settings, app.store, config_path, poll_seconds=poll_seconds)


def status_data(app: App, now: dt.datetime, limit: int = 20) -> dict[str, Any]:
    """What `ipwarn status` and the console's dashboard show (see :mod:`warning.status`)."""
    from warning.status import collect

    with app.store.read_session() as session:  # never waits for a writer
        return collect(session, app.settings, now, limit)


@click.command()
@click.option("--json", "as_json", is_flag=True)
@click.option(
    "--limit",
    default=15,
    show_default=True,
    type=click.IntRange(1, 1000),
    help="How many recent job runs to show.",
)
@pass_app
def status(app: App, as_json: bool, limit: int) -> None:
    """Show sources, recent job runs, digests to approve, backlogs, quarantine and the outbox."""
    data = status_data(app, utcnow(), limit)
    if as_json:
        click.echo(json.dumps(data, ensure_ascii=False, indent=2))
        return
    sources, outbox, oldest_age = data["sources"], data["outbox"], data["oldest_due_seconds"]
    click.echo(f"times in {data['timezone']}")
    click.echo(
        "sources:" if sources else "sources: none configured (see [sources.NAME] in ipwarn.toml)"
    )
    for s in sources:
        if s["state"] == "never run":
            when = "never run"
        elif s["last_run"] is None:
            when = "-"
        else:
            when = f"last_run={s['last_run']} ({s['last_status']}) last_item={s['last_item_at']}"
        failures = (
            f" failed {s['consecutive_failures']}x in a row"
            if s["consecutive_failures"] and s["state"] != "off"
            else ""
        )
        click.echo(f"  {s['source']:<16} {s['state']:<9} cron={s['cron']!r} {when}{failures}")
        if s["state"] == "failed" and s["last_error"]:
            click.echo(f"      error: {s['last_error'][:200]}")
        elif s["state"] == "skipped" and s["last_error"]:
            click.echo(f"      skipped: {s['last_error'][:200]}")
    click.echo("recent jobs:" if data["jobs"] else "recent jobs: none yet")
    for r in data["jobs"]:
        err = f"  error: {r['error']}" if r["error"] else ""
        click.echo(
            f"  {r['started_at']}  {r['job']:<20} {r['status']:<9} {r['seconds'] or ''}{err}"
        )
    drafts = data["digests_awaiting_approval"]
    click.echo(
        "digests awaiting approval: "
        + (", ".join(f"#{d['id']} {d['week']}" for d in drafts) or "none")
        + (f"  (ipwarn digest approve {drafts[0]['id']} --by NAME)" if drafts else "")
    )
    backlog = data["untagged"]
    click.echo(
        f"untagged documents: {backlog['documents']} (classifier {backlog['model_version']})"
    )
    quarantine = data["quarantine"]
    click.echo(
        "quarantined records: "
        + (" ".join(f"{k}={v}" for k, v in quarantine.items()) or "none")
        + ("  (ipwarn quarantine list)" if quarantine else "")
    )
    click.echo(
        "outbox: "
        + (" ".join(f"{k}={v}" for k, v in sorted(outbox.items())) or "empty")
        + (f"  oldest due: {oldest_age / 60:.1f} min" if oldest_age is not None else "")
    )
    for problem in data["problems"]:
        click.echo(f"PROBLEM: {problem}")


@click.command("health")
@pass_app
def health_cmd(app: App) -> None:
    """Check for stale sources and a backed-up outbox; queue operator alerts (the scheduler runs it)."""
    from warning import health

    now = utcnow()
    with app.store.session() as session:
        report = health.check(session, app.settings, now)
        queued = health.notify_operators(session, app.settings, report, now)
    for problem in report.problems:
        click.echo(f"PROBLEM: {problem}")
    click.echo(f"operator messages queued: {queued}")

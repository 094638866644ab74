"""Core commands: db, config, run, serve, status, health."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import click
from sqlalchemy import desc, select

from warning.app import App
from warning.pipeline import STAGES, StageContext, StageResult, run_once
from warning.store import migrate
from warning.store.models import CrawlRun, JobRun, utcnow

pass_app = click.pass_obj


@click.group()
def db() -> None:
    """Create or migrate the database schema (Alembic)."""


@db.command("upgrade")
@click.option("--revision", default="head", show_default=True)
@pass_app
def db_upgrade(app: App, revision: str) -> None:
    """Migrate the database to the newest schema (safe to repeat)."""
    app.store.check()
    before = migrate.current_revision(app.store.engine)
    migrate.upgrade(app.store.engine, revision)
    after = migrate.current_revision(app.store.engine)
    click.echo(
        f"database {app.store.engine.url.render_as_string(hide_password=True)}: "
        f"{before or 'empty'} -> {after}"
    )


@db.command("current")
@pass_app
def db_current(app: App) -> None:
    """Print the schema revision of the database and of this ipwarn."""
    app.store.check()
    click.echo(f"database: {migrate.current_revision(app.store.engine) or 'empty'}")
    click.echo(f"code:     {migrate.head_revision(app.store.engine)}")


def ensure_schema(app: App) -> None:
    """The embedded SQLite database migrates itself; PostgreSQL must be upgraded explicitly."""
    app.store.check()
    if app.store.is_sqlite and migrate.current_revision(app.store.engine) is None:
        migrate.upgrade(app.store.engine)
    migrate.require_current(app.store.engine)


@click.group(invoke_without_command=True)
@click.pass_context
def config(ctx: click.Context) -> None:
    """Show the effective configuration, secrets masked."""
    if ctx.invoked_subcommand is None:
        ctx.invoke(config_show)


@config.command("show")
@pass_app
def config_show(app: App) -> None:
    """Print the effective settings as JSON (secrets shown as '**********')."""
    click.echo(json.dumps(app.settings.redacted(), ensure_ascii=False, indent=2))


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
    ensure_schema(app)
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
    ensure_schema(app)
    config_path = ctx.find_root().params.get("config_path")
    serve_forever(app.settings, app.store, config_path, poll_seconds=poll_seconds)


def status_data(app: App, now: dt.datetime, limit: int = 20) -> dict[str, Any]:
    """Sources and their freshness, recent job runs, outbox counts (`ipwarn status`, console)."""
    from warning import health

    with app.store.session() as session:
        report = health.check(session, app.settings, now)
        stale = {name for name, _ in report.stale_sources}
        sources = []
        for name, src in sorted(app.settings.sources.items()):
            last = session.scalars(
                select(CrawlRun)
                .where(CrawlRun.source == name)
                .order_by(desc(CrawlRun.started_at))
                .limit(1)
            ).first()
            state = (
                "off"
                if not (src.enabled and src.base_url)
                else ("stale" if name in stale else "ok")
            )
            sources.append(
                {
                    "source": name,
                    "state": state,
                    "cron": src.cron,
                    "last_run": last.started_at.isoformat(timespec="seconds") if last else None,
                    "last_status": last.status if last else None,
                    "last_item_at": last.last_item_at.isoformat(timespec="seconds")
                    if last and last.last_item_at
                    else None,
                }
            )
        runs = [
            {
                "job": r.job,
                "status": r.status,
                "started_at": r.started_at.isoformat(timespec="seconds"),
                "seconds": (r.detail or {}).get("seconds"),
                "error": (r.error or "")[:200],
            }
            for r in session.scalars(select(JobRun).order_by(desc(JobRun.id)).limit(limit))
        ]
    outbox = {k: v for k, v in report.outbox.counts.items() if v}
    oldest_age = report.outbox.oldest_pending_age_seconds
    data = {
        "sources": sources,
        "jobs": runs,
        "outbox": outbox,
        "oldest_due_seconds": oldest_age,
        "problems": report.problems,
    }
    return data


@click.command()
@click.option("--json", "as_json", is_flag=True)
@click.option("--limit", default=15, show_default=True, help="How many recent job runs to show.")
@pass_app
def status(app: App, as_json: bool, limit: int) -> None:
    """Show sources, recent job runs, stale sources and the outbox."""
    ensure_schema(app)
    data = status_data(app, utcnow(), limit)
    sources = data["sources"]
    runs = data["jobs"]
    outbox = data["outbox"]
    oldest_age = data["oldest_due_seconds"]
    if as_json:
        click.echo(json.dumps(data, ensure_ascii=False, indent=2))
        return
    click.echo(
        "sources:" if sources else "sources: none configured (see [sources.NAME] in ipwarn.toml)"
    )
    for s in sources:
        click.echo(
            f"  {s['source']:<16} {s['state']:<6} cron={s['cron']!r} last_run={s['last_run']} "
            f"({s['last_status']}) last_item={s['last_item_at']}"
        )
    click.echo("recent jobs:")
    for r in runs:
        err = f"  error: {r['error']}" if r["error"] else ""
        click.echo(
            f"  {r['started_at']}  {r['job']:<20} {r['status']:<9} {r['seconds'] or ''}{err}"
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

    ensure_schema(app)
    now = utcnow()
    with app.store.session() as session:
        report = health.check(session, app.settings, now)
        queued = health.notify_operators(session, app.settings, report, now)
    for problem in report.problems:
        click.echo(f"PROBLEM: {problem}")
    click.echo(f"operator messages queued: {queued}")

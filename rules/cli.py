"""`ipwarn rules ...` and `ipwarn subscriptions ...`."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from pathlib import Path

import click
from sqlalchemy import func, select

from rules.backtest import (
    AnyMatch,
    as_row,
    backtest_stored,
    format_line,
    read_docs,
    run_backtest,
    screen_for,
)
from rules.deadlines import DeadlineMatch
from rules.engine import CompiledRule, CompiledSubscription
from rules.loader import load_rules, load_rules_or_raise, load_subscription_file, rule_files
from rules.repository import (
    compiled_from_file,
    import_subscriptions,
    set_status,
    sync_rules,
)
from rules.stage import rules_dir
from rules.subscriptions import describe
from warning.app import App
from warning.cli_types import ROW_ID
from warning.dates import parse_datetime
from warning.errors import InputError
from warning.store.models import Alert, Enterprise, Rule, Subscription, utcnow

PATHS = click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))


@click.group()
def rules() -> None:
    """Check, back-test, store, activate and retire expert warning rules."""


@rules.command("check")
@PATHS
def check(paths: tuple[Path, ...]) -> None:
    """Validate rule files; one `FILE:LINE: field: message` line per problem, exit 2 if any."""
    loaded, problems = load_rules(list(paths))
    for problem in problems:
        click.echo(str(problem))
    files = len(rule_files(list(paths)))
    if problems:
        click.echo(f"{len(problems)} problem(s) in {files} file(s)", err=True)
        raise click.exceptions.Exit(2)
    click.echo(f"ok: {len(loaded)} rule(s) in {files} file(s)", err=True)


@rules.command("test")
@PATHS
@click.option(
    "--docs",
    "docs_path",
    type=click.Path(path_type=Path, dir_okay=False),
    help="`ipwarn parse` JSON lines (optionally with classifier tags).",
)
@click.option(
    "--since", help="Back-test over stored documents published (or with events) from this date."
)
@click.option("--until", help="End date for --since (default: today).")
@click.option(
    "--subscriptions",
    "subs_path",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Subscriptions YAML (default with --since: the stored subscriptions; with --docs: none).",
)
@click.option("--now", "now_text", help="The clock for trend rules (default: now, UTC).")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per would-be alert.")
@click.pass_obj
def test(
    app: App,
    paths: tuple[Path, ...],
    docs_path: Path | None,
    since: str | None,
    until: str | None,
    subs_path: Path | None,
    now_text: str | None,
    as_json: bool,
) -> None:
    """Show the alerts the rules would raise, without storing anything."""
    if (docs_path is None) == (since is None):
        raise click.UsageError("give exactly one of --docs FILE or --since DATE")
    loaded = load_rules_or_raise(list(paths))
    candidate = [CompiledRule.build(r.spec) for r in loaded]
    now = parse_datetime(now_text, "--now") or utcnow()
    subs = compiled_from_file(load_subscription_file(subs_path)) if subs_path else []
    if docs_path is not None:
        docs = read_docs(docs_path, warn=lambda m: click.echo(m, err=True))
        matches = run_backtest(
            candidate,
            docs,
            subs,
            now,
            regions=_regions(app),
            screen=screen_for(candidate, subs, docs),
        )
        _print(matches, as_json)
        click.echo(f"{len(matches)} would-be alert(s) from {len(docs)} document(s)", err=True)
        deadline_rules = sum(r.spec.kind == "deadline" for r in candidate)
        if deadline_rules:
            click.echo(
                f"note: {deadline_rules} deadline rule(s) not tested: they read the store's "
                "rights in force (filing dates, legal events); use --since/--until",
                err=True,
            )
        return
    _test_stored(app, candidate, since, until, subs_path is not None, subs, now, as_json)


def _regions(app: App) -> list[str]:
    try:
        return list(app.settings.local_regions)
    except Exception:
        return ["鞍山", "辽宁"]


def _print(matches: Sequence[AnyMatch], as_json: bool) -> None:
    for match in matches:
        click.echo(
            json.dumps(as_row(match), ensure_ascii=False, default=str)
            if as_json
            else format_line(match)
        )


def _test_stored(
    app: App,
    candidate: list[CompiledRule],
    since: str | None,
    until: str | None,
    have_subs: bool,
    subs: list[CompiledSubscription],
    now: dt.datetime,
    as_json: bool,
) -> None:
    start = parse_datetime(since, "--since")
    end = parse_datetime(until, "--until") or now
    assert start is not None
    first, last = start.date(), end.date()
    result = backtest_stored(
        app.store, app.settings, candidate, first, last, end, subs if have_subs else None
    )
    new, diffs = result.candidate, result.diffs
    _print(new, as_json)
    for d in diffs:
        base = f"v{d.baseline_version}" if d.baseline_version else "no active version"
        if as_json:
            click.echo(
                json.dumps(
                    {
                        "diff": d.rule_id,
                        "candidate_version": d.candidate_version,
                        "active_version": d.baseline_version,
                        "gained": [{"enterprise": e, "subject": s} for e, s in d.gained],
                        "lost": [{"enterprise": e, "subject": s} for e, s in d.lost],
                    },
                    ensure_ascii=False,
                )
            )
            continue
        click.echo(
            f"diff {d.rule_id} v{d.candidate_version} vs {base}: +{len(d.gained)} -{len(d.lost)}",
            err=True,
        )
        for enterprise, subject in d.gained:
            click.echo(f"  + {subject} {enterprise or '-'}", err=True)
        for enterprise, subject in d.lost:
            click.echo(f"  - {subject} {enterprise or '-'}", err=True)
    deadline_alerts = sum(isinstance(m, DeadlineMatch) for m in new)
    click.echo(
        f"{len(new)} would-be alert(s) from {result.documents} stored document(s) {first}..{last}"
        + (
            f", {deadline_alerts} of them deadline alert(s) of the rights in force among "
            f"{result.grants} stored grant(s)"
            if result.grants
            else ""
        ),
        err=True,
    )


@rules.command("sync")
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
@click.pass_obj
def sync(app: App, paths: tuple[Path, ...]) -> None:
    """Store new rule versions from PATHS (default: the configured rules directory)."""
    loaded = load_rules_or_raise(list(paths) or [rules_dir(app.settings)])
    with app.store.session() as session:
        report = sync_rules(session, loaded, utcnow())
        if report.problems:
            session.rollback()
            raise InputError(report.problems, hint="Nothing was stored.")
    for note in report.notes:
        click.echo(f"note: {note}", err=True)
    click.echo(
        f"stored {len(report.inserted)} new rule version(s), {report.unchanged} unchanged"
        + (": " + ", ".join(report.inserted) if report.inserted else "")
    )


def _status_command(name: str, status: str, doc: str) -> None:
    @rules.command(name, help=doc)
    @click.argument("rule_id")
    @click.argument("version", type=ROW_ID)
    @click.pass_obj
    def command(app: App, rule_id: str, version: int) -> None:
        with app.store.session() as session:
            rule = set_status(session, rule_id, version, status, utcnow())
            click.echo(f"{rule.rule_id} v{rule.version} is now {rule.status}")


_status_command(
    "activate", "active", "Make VERSION the active version of rule ID (others are retired)."
)
_status_command("retire", "retired", "Retire VERSION of rule ID: it no longer matches.")


@rules.command("list")
@click.option("--all", "show_all", is_flag=True, help="Include draft and retired versions.")
@click.pass_obj
def list_rules(app: App, show_all: bool) -> None:
    """Stored rule versions with their status and alert counts."""
    with app.store.read_session() as session:
        query = select(Rule).order_by(Rule.rule_id, Rule.version)
        if not show_all:
            query = query.where(Rule.status.in_(("active", "test")))
        counts = dict(
            session.execute(select(Alert.rule_pk, func.count()).group_by(Alert.rule_pk)).all()
        )
        rows = session.execute(query).scalars().all()
        for row in rows:
            click.echo(
                f"{row.rule_id}\tv{row.version}\t{row.status}\t{row.severity}\t"
                f"{counts.get(row.id, 0)} alert(s)\t{row.title}"
            )
    if not rows:
        click.echo("no stored rules; run `ipwarn rules sync`", err=True)


@click.group()
def subscriptions() -> None:
    """Import and list enterprise subscriptions."""


@subscriptions.command("import")
@click.argument("file", type=click.Path(path_type=Path, dir_okay=False))
@click.pass_obj
def import_file(app: App, file: Path) -> None:
    """Create or update the enterprises and subscriptions in FILE (YAML)."""
    parsed = load_subscription_file(file)
    with app.store.session() as session:
        report = import_subscriptions(session, parsed, utcnow())
    click.echo(describe(report))


@subscriptions.command("list")
@click.pass_obj
def list_subscriptions(app: App) -> None:
    """Enterprises, their recipients and their active subscriptions."""
    with app.store.read_session() as session:
        rows = session.execute(
            select(Subscription, Enterprise)
            .join(Enterprise)
            .order_by(Enterprise.id, Subscription.name)
        ).all()
        for sub, ent in rows:
            scope = ", ".join(
                f"{k}={len(v) if isinstance(v, list) else v}" for k, v in sorted(sub.scope.items())
            )
            click.echo(
                f"{ent.id}\t{sub.name}\t{'active' if sub.active else 'inactive'}\t{sub.frequency}\t"
                f"{','.join(ent.recipients)}\t{scope}"
            )
    if not rows:
        click.echo("no subscriptions; run `ipwarn subscriptions import FILE`", err=True)


@subscriptions.command("unsubscribe")
@click.argument("enterprise_id", metavar="ENTERPRISE")
@click.option("--subscription", default=None, help="Only this subscription (default: all).")
@click.pass_obj
def unsubscribe_cmd(app: App, enterprise_id: str, subscription: str | None) -> None:
    """Deactivate an enterprise's subscriptions (all, or one) and cancel its queued mail."""
    from rules.repository import unsubscribe

    with app.store.session() as session:
        report = unsubscribe(session, enterprise_id, utcnow(), subscription)
    click.echo(
        f"{enterprise_id}: deactivated {', '.join(report.deactivated) or 'nothing (already inactive)'}"
        f"; {report.queued_cancelled} queued message(s) cancelled"
    )


@subscriptions.command("resubscribe")
@click.argument("enterprise_id", metavar="ENTERPRISE")
@click.option("--subscription", default=None, help="Only this subscription (default: all).")
@click.pass_obj
def resubscribe_cmd(app: App, enterprise_id: str, subscription: str | None) -> None:
    """Reactivate an enterprise's deactivated subscriptions (all, or one)."""
    from rules.repository import resubscribe

    with app.store.session() as session:
        report = resubscribe(session, enterprise_id, utcnow(), subscription)
    blank = f"; left off (no scope yet): {', '.join(report.blank)}" if report.blank else ""
    click.echo(
        f"{enterprise_id}: reactivated {', '.join(report.reactivated) or 'nothing (already active)'}"
        + blank
    )


@subscriptions.command("remove")
@click.argument("enterprise_id", metavar="ENTERPRISE")
@click.pass_obj
def remove_cmd(app: App, enterprise_id: str) -> None:
    """Remove an enterprise: its subscriptions, recipients and queued mail (history is kept)."""
    from rules.repository import remove_enterprise

    with app.store.session() as session:
        report = remove_enterprise(session, enterprise_id, utcnow())
    kept = (
        "deleted"
        if report.deleted
        else f"kept as history for {report.history} alert/mail row(s), with no subscription "
        "or recipient left"
    )
    click.echo(
        f"{enterprise_id}: removed ({kept}); {report.queued_cancelled} queued message(s) cancelled"
    )

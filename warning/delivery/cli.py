"""`ipwarn deliver`, `ipwarn outbox` and `ipwarn silence add|list|remove`."""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import click
from sqlalchemy import select
from sqlalchemy.exc import OperationalError, ProgrammingError

from warning.app import App
from warning.cli_types import ROW_ID
from warning.dates import parse_date, parse_datetime
from warning.delivery.outbox import dead_letters, outbox_summary, requeue_dead
from warning.errors import DeliveryError, InputError, Problem, StoreError
from warning.pipeline import StageContext
from warning.store.engine import describe_store_error
from warning.store.models import MAX_ROW_ID, Enterprise, Silence, utcnow
from warning.timefmt import local, local_iso

SILENCE_KINDS = ("rule", "enterprise", "family")


@contextmanager
def store_errors() -> Iterator[None]:
    """A database error becomes a StoreError that says what happened and what to do."""
    try:
        yield
    except (OperationalError, ProgrammingError) as exc:
        raise StoreError(describe_store_error(exc)) from exc


def _parse_now(value: str | None) -> dt.datetime:
    return parse_datetime(value, "--now") or utcnow()


@click.command()
@click.option("--now", "now_text", default=None, help="Clock to use (ISO date-time; default: now).")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@click.option(
    "--flush",
    is_flag=True,
    help="Send everything queued now, ignoring digest times, quiet hours and back-offs.",
)
@click.pass_obj
def deliver(app: App, now_text: str | None, as_json: bool, flush: bool) -> None:
    """Send the outbox messages that are due (SMTP, or .eml files without smtp_host), then exit."""
    from warning.delivery.stage import run_deliver_stage

    ctx = StageContext(
        settings=app.settings, store=app.store, now=_parse_now(now_text), force=flush
    )
    with store_errors():
        result = run_deliver_stage(ctx)
    if as_json:
        click.echo(
            json.dumps(
                {"counts": result.counts, "outputs": result.outputs, "note": result.note},
                ensure_ascii=False,
                indent=2,
            )
        )
        if result.counts.get("server_unavailable"):
            raise click.exceptions.Exit(1)
        return
    c = result.counts
    click.echo(
        f"sent {c.get('sent', 0)} rows in {c.get('messages', 0)} messages, "
        f"retrying {c.get('retrying', 0)}, dead {c.get('dead', 0)}, "
        f"suppressed {c.get('suppressed', 0)}, rolled over {c.get('rolled_over', 0)}"
        + (f", cancelled {c['cancelled']}" if c.get("cancelled") else "")
    )
    if result.note:
        click.echo(result.note)
    for path in result.outputs:
        click.echo(f"  {path}")
    if c.get("server_unavailable"):
        raise DeliveryError(
            "the mail server could not be used; nothing is lost, rows are retried",
            retryable=True,
        )


def _age(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    minutes, sec = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m" if hours else f"{minutes}m{sec:02d}s"


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print counts as JSON.")
@click.option(
    "--dead", "show_dead", is_flag=True, help="List dead letters with the server's answer."
)
@click.option(
    "--requeue-dead",
    "requeue",
    multiple=True,
    type=str,
    help="Put dead rows back to pending ('all' or a row id; repeatable).",
)
@click.pass_obj
def outbox(app: App, as_json: bool, show_dead: bool, requeue: tuple[str, ...]) -> None:
    """Show outbox counts per status and the age of the oldest pending row."""
    now = utcnow()
    with store_errors(), app.store.session() as session:
        requeued = None
        if requeue:
            ids = None if "all" in requeue else [_row_id(v) for v in requeue]
            if ids is not None:
                _dead_rows_exist(session, ids)
            requeued = requeue_dead(session, now, ids)
        summary = outbox_summary(session, now)
        dead = [
            {
                "id": r.id,
                "kind": r.kind,
                "recipient": r.recipient,
                "attempts": r.attempts,
                "alert_id": r.alert_id,
                "error": r.last_error,
            }
            for r in (dead_letters(session) if show_dead else [])
        ]
    data: dict[str, Any] = summary.as_dict()
    data["stale"] = (
        summary.oldest_pending_age_seconds or 0
    ) >= app.settings.outbox_stale_minutes * 60
    if requeued is not None:
        data["requeued"] = requeued
    if show_dead:
        data["dead_letters"] = dead
    if as_json:
        click.echo(json.dumps(data, ensure_ascii=False, indent=2))
        return
    for status, count in summary.counts.items():
        click.echo(f"{status:<11}{count:>8}")
    click.echo(f"{'scheduled':<11}{summary.scheduled:>8}  (unsent, not yet due)")
    flag = "  STALE" if data["stale"] else ""
    click.echo(f"oldest pending: {_age(summary.oldest_pending_age_seconds)} overdue{flag}")
    if requeued is not None:
        click.echo(f"requeued {requeued} dead rows")
    if show_dead and not dead:
        click.echo("no dead letters")
    for d in dead:
        click.echo(
            f"  #{d['id']} {d['kind']} {d['recipient']} attempts={d['attempts']}: {d['error']}"
        )


def _dead_rows_exist(session: Any, ids: list[int]) -> None:
    """Refuse ids that are not dead rows (unknown, or sent/pending): requeueing them does nothing."""
    from warning.store.models import OutboxMessage

    found = dict(
        session.execute(
            select(OutboxMessage.id, OutboxMessage.status).where(OutboxMessage.id.in_(ids))
        ).all()
    )
    problems = [
        Problem(
            f"no outbox row #{i}" if i not in found else f"row #{i} is {found[i]}, not dead",
            field="--requeue-dead",
        )
        for i in ids
        if found.get(i) != "dead"
    ]
    if problems:
        raise InputError(problems, hint="Nothing was requeued; `ipwarn outbox --dead` lists them.")


def _row_id(value: str) -> int:
    if not value.isdigit() or not 0 < int(value) <= MAX_ROW_ID:
        raise InputError(
            [Problem(f"expected a row id or 'all', got {value!r}", field="--requeue-dead")]
        )
    return int(value)


_DURATION = re.compile(r"^(\d+)\s*([mhdw])$")


def parse_until(until: str | None, duration: str | None, now: dt.datetime, tz: Any) -> dt.datetime:
    """``--until 2026-12-31`` (end of that local day) or ``--until ISO`` or ``--for 7d``."""
    if bool(until) == bool(duration):
        raise InputError(
            [Problem("give exactly one of --until DATE or --for DURATION", field="--until")]
        )
    if duration:
        m = _DURATION.match(duration.strip().lower())
        if not m:
            raise InputError(
                [Problem(f"not a duration like 30m, 12h, 7d, 2w: {duration!r}", field="--for")]
            )
        unit = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}[m.group(2)]
        return now + dt.timedelta(**{unit: int(m.group(1))})
    assert until is not None
    day = parse_date(until, "--until") if len(until.strip()) == 10 else None
    if day is not None:  # a whole day: muted until the end of it
        end = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(), tzinfo=tz)
        value: dt.datetime | None = end.astimezone(dt.UTC)
    else:
        value = parse_datetime(until, "--until", tz)
    if value is None:  # blank
        raise InputError(
            [Problem("a date (YYYY-MM-DD) or ISO date-time is required", field="--until")]
        )
    if value <= now:
        raise InputError([Problem(f"{until} is in the past", field="--until")])
    return value


@click.group()
def silence() -> None:
    """Mute a rule, an enterprise or a document family until a date."""


@silence.command("add")
@click.option("--rule", "rule_id", default=None, help="Mute this rule id.")
@click.option(
    "--enterprise",
    "enterprise_id",
    default=None,
    help="Mute this enterprise (alone), or limit a --rule/--family silence to it.",
)
@click.option(
    "--family", default=None, help="Mute a document family (publication or application number)."
)
@click.option("--until", default=None, help="Until this local date (inclusive) or ISO date-time.")
@click.option("--for", "duration", default=None, help="For a duration: 30m, 12h, 7d, 2w.")
@click.option("--reason", default="", help="Why (shown in the outbox row that is held back).")
@click.option("--by", "created_by", default="", help="Who asked for it.")
@click.pass_obj
def silence_add(
    app: App,
    rule_id: str | None,
    enterprise_id: str | None,
    family: str | None,
    until: str | None,
    duration: str | None,
    reason: str,
    created_by: str,
) -> None:
    """Add a silence; alerts it covers are recorded as suppressed, not sent."""
    if rule_id and family:
        raise InputError([Problem("give --rule or --family, not both", field="--rule")])
    if rule_id:
        kind, target, scope = "rule", rule_id, enterprise_id
    elif family:
        kind, target, scope = "family", family, enterprise_id
    elif enterprise_id:
        kind, target, scope = "enterprise", enterprise_id, enterprise_id
    else:
        raise InputError([Problem("give --rule, --family or --enterprise", field="--rule")])
    now = utcnow()
    until_at = parse_until(until, duration, now, app.settings.tz)
    with store_errors(), app.store.session() as session:
        if scope and session.get(Enterprise, scope) is None:
            raise InputError([Problem(f"unknown enterprise {scope!r}", field="--enterprise")])
        if kind == "rule":
            _known_rule(app, session, target.strip())
        row = Silence(
            kind=kind,
            target=target.strip(),
            enterprise_id=scope,
            until=until_at,
            reason=reason,
            created_by=created_by,
            created_at=now,
        )
        session.add(row)
        session.flush()
        click.echo(
            f"silence #{row.id}: {kind} {target}"
            f"{' for ' + scope if scope and kind != 'enterprise' else ''} until "
            f"{local(until_at, app.settings.tz)} ({app.settings.timezone})"
        )


def _known_rule(app: App, session: Any, rule_id: str) -> None:
    """A silence for a rule id nobody has (a typo) would silence nothing: refuse it."""
    from rules.loader import load_rules
    from rules.spec import did_you_mean
    from rules.stage import rules_dir
    from warning.store.models import Rule

    known = set(session.scalars(select(Rule.rule_id).distinct()))
    if rule_id in known:
        return
    loaded, _ = load_rules([rules_dir(app.settings)])
    known |= {r.spec.id for r in loaded}
    if rule_id not in known:
        hint = did_you_mean(rule_id, sorted(known)) or " (see `ipwarn rules list --all`)"
        raise InputError([Problem(f"unknown rule {rule_id!r}{hint}", field="--rule")])


@silence.command("list")
@click.option("--all", "show_all", is_flag=True, help="Include expired silences.")
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
def silence_list(app: App, show_all: bool, as_json: bool) -> None:
    """List active silences (or all with --all)."""
    now = utcnow()
    with store_errors(), app.store.read_session() as session:
        stmt = select(Silence).order_by(Silence.id)
        if not show_all:
            stmt = stmt.where(Silence.until > now)
        rows = [
            {
                "id": s.id,
                "kind": s.kind,
                "target": s.target,
                "enterprise": s.enterprise_id,
                "until": local_iso(s.until, app.settings.tz),
                "reason": s.reason,
                "active": s.until > now,
            }
            for s in session.scalars(stmt)
        ]
    if as_json:
        click.echo(json.dumps(rows, ensure_ascii=False, indent=2))
        return
    if not rows:
        click.echo("no silences")
    for r in rows:
        state = "" if r["active"] else " (expired)"
        scope = f" [{r['enterprise']}]" if r["enterprise"] and r["kind"] != "enterprise" else ""
        until = local(dt.datetime.fromisoformat(str(r["until"])), app.settings.tz)
        click.echo(
            f"#{r['id']} {r['kind']} {r['target']}{scope} until {until}{state} {r['reason']}".rstrip()
        )


@silence.command("remove")
@click.argument("silence_id", type=ROW_ID)
@click.pass_obj
def silence_remove(app: App, silence_id: int) -> None:
    """Remove a silence by id; alerts already suppressed stay suppressed."""
    with store_errors(), app.store.session() as session:
        row = session.get(Silence, silence_id)
        if row is None:
            raise InputError([Problem(f"no silence #{silence_id}", field="SILENCE_ID")])
        session.delete(row)
    click.echo(f"removed silence #{silence_id}")

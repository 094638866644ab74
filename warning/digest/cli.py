"""`ipwarn digest`: build, show, approve, send and list weekly risk digests."""

from __future__ import annotations

import getpass
import json

import click

from warning.app import App
from warning.cli_types import ROW_ID
from warning.digest.render import fmt_no_baseline, fmt_pct, fmt_value
from warning.digest.service import (
    approve_digest,
    build_digest,
    get_digest,
    list_digests,
    send_digest,
)
from warning.digest.weeks import IsoWeek, last_complete_week
from warning.errors import InputError, Problem
from warning.store.models import utcnow
from warning.timefmt import local


@click.group()
def digest() -> None:
    """Build, show, approve and send the weekly risk digest."""


@digest.command()
@click.option(
    "--week",
    "week_text",
    default=None,
    metavar="YYYY-Www",
    help="ISO week, e.g. 2026-W47 (default: the last complete week, Asia/Shanghai).",
)
@click.pass_obj
def build(app: App, week_text: str | None) -> None:
    """Build a draft digest (HTML and PDF) for one week from the store."""
    settings = app.settings
    now = utcnow()
    week = IsoWeek.parse(week_text) if week_text else last_complete_week(now, settings.tz)
    current = IsoWeek.of(now.astimezone(settings.tz).date())
    if week.monday > current.monday:
        raise InputError(
            [
                Problem(
                    f"{week} has not started yet (this week is {current}, {settings.timezone}); "
                    f"the last complete week is {last_complete_week(now, settings.tz)}",
                    field="--week",
                )
            ]
        )
    built = build_digest(app.store, settings, week)
    click.echo(f"digest {built.id} ({built.week}) drafted; input hash {built.input_hash[:16]}")
    if not built.content["has_data"]:
        click.echo("  the week has no data: the digest says so and shows no levels or charts")
    for sector in built.content["sectors"]:
        level = sector["level_zh"] or "无数据"
        click.echo(f"  {level}  {sector['name_zh']}")
        no_baseline = fmt_no_baseline(built.content, sector)
        if no_baseline:
            click.echo(f"      {no_baseline}")
    click.echo(f"  html: {built.html_path}\n  pdf:  {built.pdf_path}")
    click.echo(f"next: ipwarn digest approve {built.id} --by NAME")


@digest.command()
@click.argument("digest_id", metavar="ID", type=ROW_ID)
@click.option("--json", "as_json", is_flag=True, help="Print the stored content as JSON.")
@click.pass_obj
def show(app: App, digest_id: int, as_json: bool) -> None:
    """Show a digest's status, levels and the indicators that drove them."""
    with app.store.read_session() as session:
        row = get_digest(session, digest_id)
    if as_json:
        click.echo(
            json.dumps(
                {
                    "id": row.id,
                    "week": row.week,
                    "status": row.status,
                    "input_hash": row.input_hash,
                    "content": row.content,
                },
                ensure_ascii=False,
                indent=2,
            )
        )
        return
    content = row.content
    click.echo(f"digest {row.id}  week {row.week} ({content.get('start')} .. {content.get('end')})")
    tz = app.settings.tz
    click.echo(f"status: {row.status}; built {local(row.built_at, tz)}")
    if row.approved_at:
        click.echo(f"approved by {row.approved_by} at {local(row.approved_at, tz)}")
    if row.sent_at:
        click.echo(f"queued for sending at {local(row.sent_at, tz)}")
    click.echo(f"input hash: {row.input_hash}")
    click.echo(f"html: {row.html_path}\npdf:  {row.pdf_path}")
    if not content.get("has_data"):
        click.echo("the week has no data")
        return
    for s in content["sectors"]:
        click.echo(
            f"  [{s['level_zh'] or '无数据'}] {s['name_zh']}: publications {s['publications']['this']}, "
            f"foreign {fmt_pct(s['foreign']['share'])}, local {s['local']['total']}, "
            f"legal events {s['legal']['total']}, alerts {s['alerts']['total']}"
        )
        for d in s["drivers"]:
            click.echo(
                f"      {d['level_zh']} {d['label']} = {fmt_value(d['value'], d['unit'])} "
                f"(threshold {fmt_value(d['threshold'], d['unit'])})"
            )
        no_baseline = fmt_no_baseline(content, s)
        if no_baseline:
            click.echo(f"      {no_baseline}")


@digest.command()
@click.argument("digest_id", metavar="ID", type=ROW_ID)
@click.option("--by", "by", default=None, help="Who approves (default: the login name).")
@click.pass_obj
def approve(app: App, digest_id: int, by: str | None) -> None:
    """Approve a draft (records who and when); only approved digests can be sent."""
    if not by:
        try:
            by = getpass.getuser()
        except (OSError, KeyError) as exc:
            raise InputError(
                [Problem("cannot tell who you are; pass --by NAME", field="--by")]
            ) from exc
    row = approve_digest(app.store, digest_id, by)
    click.echo(
        f"digest {row.id} ({row.week}) approved by {row.approved_by} "
        f"at {local(row.approved_at, app.settings.tz)}; next: ipwarn digest send {row.id}"
    )


@digest.command()
@click.argument("digest_id", metavar="ID", type=ROW_ID)
@click.pass_obj
def send(app: App, digest_id: int) -> None:
    """Queue an approved digest for the bureau's recipients (sent by `ipwarn deliver`)."""
    created = send_digest(app.store, app.settings, digest_id)
    total = len([r for r in app.settings.bureau_recipients if r.strip()])
    click.echo(
        f"digest {digest_id}: {created} new outbox message(s) queued "
        f"({total - created} already queued)"
    )


@digest.command(name="list")
@click.option("--limit", default=20, show_default=True, type=click.IntRange(1, 1000))
@click.pass_obj
def list_(app: App, limit: int) -> None:
    """List recent digests, newest first."""
    with app.store.read_session() as session:
        rows = list_digests(session, limit)
    if not rows:
        click.echo("no digests yet; build one with: ipwarn digest build")
        return
    tz = app.settings.tz
    click.echo(
        f"{'ID':>5}  {'WEEK':<9} {'STATUS':<9} {'BUILT (' + app.settings.timezone + ')':<21} LEVELS"
    )
    for row in rows:
        sectors = row.content.get("sectors", []) if row.content.get("has_data") else []
        levels = " ".join(f"{s['id']}={s['level_zh'] or '-'}" for s in sectors) or "no data"
        click.echo(
            f"{row.id:>5}  {row.week:<9} {row.status:<9} {local(row.built_at, tz):<21} {levels}"
        )

"""`ipwarn quarantine list|show|retry`: a thin view over :mod:`crawlers.quarantine`."""

from __future__ import annotations

import json

import click

from warning.app import App
from warning.cli_types import ROW_ID
from warning.timefmt import local, local_iso


@click.group()
def quarantine() -> None:
    """List, show and retry quarantined (unparseable or unstorable) records."""


@quarantine.command("list")
@click.option("--source", default=None, help="Only this source.")
@click.option("--limit", default=50, show_default=True, type=click.IntRange(1, 10_000))
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
def list_cmd(app: App, source: str | None, limit: int, as_json: bool) -> None:
    """Quarantined records, newest first, with the reason."""
    from crawlers.quarantine import list_quarantine

    tz = app.settings.tz
    with app.store.read_session() as session:
        rows, total = list_quarantine(session, source=source, limit=limit)
        data = [
            {
                "id": r.id,
                "source": r.source,
                "created_at": local_iso(r.created_at, tz),
                "location": r.location,
                "reason": r.reason,
                "bytes": len(r.raw),
            }
            for r in rows
        ]
    if as_json:
        click.echo(json.dumps({"total": total, "records": data}, ensure_ascii=False, indent=2))
        return
    if not data:
        click.echo("no quarantined records")
        return
    for r in data:
        click.echo(f"#{r['id']}  {r['created_at']}  {r['source']}  {r['location']}")
        click.echo(f"    {str(r['reason'])[:300]}")
    click.echo(f"{len(data)} of {total} quarantined record(s)", err=True)


@quarantine.command("show")
@click.argument("record_id", metavar="ID", type=ROW_ID)
@click.option("--raw", "raw_out", is_flag=True, help="Write the raw bytes to stdout instead.")
@click.pass_obj
def show_cmd(app: App, record_id: int, raw_out: bool) -> None:
    """One quarantined record: where it came from, why, and the start of its bytes."""
    from crawlers.quarantine import get_quarantined

    with app.store.read_session() as session:
        row = get_quarantined(session, record_id)
        raw, reason, location, source = row.raw, row.reason, row.location, row.source
        created, run = row.created_at, row.crawl_run_id
    if raw_out:
        import sys

        sys.stdout.buffer.write(raw)
        sys.stdout.flush()
        return
    click.echo(f"#{record_id}  source {source}  crawl run {run or '-'}")
    click.echo(f"quarantined: {local(created, app.settings.tz)}")
    click.echo(f"location:    {location}")
    click.echo(f"reason:      {reason}")
    click.echo(f"raw bytes:   {len(raw)} (ipwarn quarantine show {record_id} --raw > record.bin)")
    click.echo(raw[:2000].decode("utf-8", "replace"))


@quarantine.command("retry")
@click.argument("ids", nargs=-1, metavar="ID...|all")
@click.option("--all", "replay_all", is_flag=True, help="Retry every quarantined record.")
@click.pass_obj
def retry_cmd(app: App, ids: tuple[str, ...], replay_all: bool) -> None:
    """Parse and store records again (after a parser fix or a store outage), each in its own
    transaction; those that work leave quarantine, exit 1 if some still fail."""
    from crawlers.quarantine import replay_quarantine
    from warning.errors import InputError, Problem

    replay_all = replay_all or "all" in ids
    if not replay_all and (not ids or not all(i.isdigit() for i in ids)):
        raise InputError(
            [Problem(f"expected record ids or 'all', got {' '.join(ids) or 'nothing'}", field="ID")]
        )
    result = replay_quarantine(app.store, None if replay_all else [int(i) for i in ids])
    for record_id, c in result.stored:
        click.echo(f"#{record_id}: stored (new {c.new}, updated {c.updated})")
    for record_id, reason in result.failing:
        click.echo(f"#{record_id}: still quarantined: {reason[:300]}")
    click.echo(f"{len(result.stored)} record(s) stored, {len(result.failing)} still quarantined")
    if result.failing:
        raise click.exceptions.Exit(1)

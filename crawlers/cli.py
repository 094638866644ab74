"""``ipwarn parse`` and ``ipwarn crawl``."""

from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path

import click

from crawlers.parsers import FORMAT_NAMES, BadRecord, parse_file
from warning.app import App
from warning.errors import InputError, IpwarnError, Problem


@click.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--format",
    "fmt",
    type=click.Choice(FORMAT_NAMES),
    default=None,
    help="Force a format instead of detecting it from the content.",
)
def parse(files: tuple[Path, ...], fmt: str | None) -> None:
    """Parse local bulletin FILES and print one JSON document per line.

    Formats: CNIPA XML (old and new schema) and ZIP packages, CNIPA gazette list pages (HTML,
    GB18030 too) and CSV exports, CN legal-status transaction CSV, USPTO weekly full text
    (concatenated, zipped or not), EPO OPS biblio/legal responses. A file or record that cannot
    be parsed is reported on stderr; the others still print; the exit status is then 2.
    """
    failed = 0
    out = sys.stdout
    for path in files:
        try:
            outcomes = parse_file(path, fmt)
            for outcome in outcomes:
                if isinstance(outcome, BadRecord):
                    failed += 1
                    click.echo(f"error: {outcome.location}: {outcome.reason}", err=True)
                else:
                    out.write(outcome.to_json() + "\n")
        except OSError as exc:
            failed += 1
            click.echo(f"error: {path}: cannot read: {exc.strerror or exc}", err=True)
    out.flush()
    if failed:
        raise click.exceptions.Exit(2)


def _date(_ctx: click.Context, _param: click.Parameter, value: str | None) -> dt.date | None:
    if value is None:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"{value!r} is not a date like 2026-11-01") from None


@click.command()
@click.argument("source")
@click.option(
    "--since",
    callback=_date,
    default=None,
    metavar="DATE",
    help="Only keep documents published (and events dated) on or after DATE (YYYY-MM-DD).",
)
@click.option(
    "--full", is_flag=True, help="Ignore ETag/Last-Modified/content hashes; parse everything again."
)
@click.pass_obj
def crawl(app: App, source: str, since: dt.date | None, full: bool) -> None:
    """Run SOURCE's spider in a subprocess (with the source's timeout) and store what it finds.

    Prints new/updated/unchanged/quarantined counts. Example: ipwarn crawl inbox --since 2026-11-01
    """
    from crawlers.runner import run_source
    from warning.cli_core import ensure_schema

    if source not in app.settings.sources:
        known = ", ".join(sorted(app.settings.sources)) or "none configured"
        raise InputError(
            [Problem(f"unknown source {source!r} (configured: {known})", field="SOURCE")]
        )
    ensure_schema(app)
    outcome = run_source(app.settings, app.store, source, since=since, full=full)
    click.echo(outcome.summary())
    if outcome.status != "ok":
        raise IpwarnError(
            f"crawl of {source} {outcome.status}: {outcome.error or 'see the crawl log'}"
        )


@click.group()
def quarantine() -> None:
    """List, show and replay quarantined records (bulletin records that could not be stored)."""


@quarantine.command("list")
@click.option("--source", default=None, help="Only records of this source.")
@click.option("--limit", default=100, show_default=True, help="How many (newest first).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON lines.")
@click.pass_obj
def quarantine_list(app: App, source: str | None, limit: int, as_json: bool) -> None:
    """One line per quarantined record: id, source, when, where, why."""
    import json

    from crawlers.quarantine import list_quarantine
    from warning.cli_core import ensure_schema

    ensure_schema(app)
    with app.store.read_session() as session:
        rows = list_quarantine(session, source=source, limit=limit)
        lines = [
            {
                "id": r.id,
                "source": r.source,
                "created_at": r.created_at.isoformat(timespec="seconds"),
                "location": r.location,
                "reason": r.reason,
                "bytes": len(r.raw),
            }
            for r in rows
        ]
    if as_json:
        for line in lines:
            click.echo(json.dumps(line, ensure_ascii=False))
        return
    if not lines:
        click.echo("quarantine: empty")
    for line in lines:
        click.echo(
            f"{line['id']:>6}  {line['source']:<12} {line['created_at']}  {line['location']}\n"
            f"        {line['reason']}"
        )


@quarantine.command("show")
@click.argument("record_id", metavar="ID", type=int)
@click.pass_obj
def quarantine_show(app: App, record_id: int) -> None:
    """The reason and raw bytes of quarantined record ID (decoded as UTF-8 where possible)."""
    from crawlers.quarantine import get_quarantined
    from warning.cli_core import ensure_schema

    ensure_schema(app)
    with app.store.read_session() as session:
        row = get_quarantined(session, record_id)
        click.echo(f"id:       {row.id}\nsource:   {row.source}\nlocation: {row.location}")
        click.echo(f"when:     {row.created_at.isoformat(timespec='seconds')}")
        click.echo(f"reason:   {row.reason}\n")
        click.echo(bytes(row.raw).decode("utf-8", "replace"))


@quarantine.command("retry")
@click.argument("record_ids", metavar="[ID]...", nargs=-1, type=int)
@click.option("--all", "replay_all", is_flag=True, help="Replay every quarantined record.")
@click.pass_obj
def quarantine_retry(app: App, record_ids: tuple[int, ...], replay_all: bool) -> None:
    """Parse quarantined records again and store them; exit 1 if some still fail."""
    from crawlers.quarantine import replay_quarantine
    from warning.cli_core import ensure_schema

    if not record_ids and not replay_all:
        raise InputError([Problem("give quarantine IDs or --all", field="ID")])
    ensure_schema(app)
    result = replay_quarantine(app.store, None if replay_all else list(record_ids))
    counts = result.counts
    click.echo(
        f"stored {len(result.stored)}, still failing {len(result.failing)} "
        f"(documents new={counts.new} updated={counts.updated} unchanged={counts.unchanged} "
        f"new_events={counts.new_events})"
    )
    for record_id, reason in result.failing:
        click.echo(f"  {record_id}: {reason}")
    if result.failing:
        raise click.exceptions.Exit(1)

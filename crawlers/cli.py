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

    if source not in app.settings.sources:
        known = ", ".join(sorted(app.settings.sources)) or "none configured"
        raise InputError(
            [Problem(f"unknown source {source!r} (configured: {known})", field="SOURCE")]
        )
    import time

    from warning.pipeline import finish_job, start_job

    t0 = time.perf_counter()
    job = start_job(app.store, f"crawl:{source}")
    try:
        outcome = run_source(app.settings, app.store, source, since=since, full=full)
    except Exception as exc:
        finish_job(app.store, job, "failed", {}, str(exc)[:2000])
        raise
    detail = {"counts": outcome.counts, "crawl_run": outcome.run_id}
    detail["seconds"] = round(time.perf_counter() - t0, 3)
    finish_job(app.store, job, outcome.status, detail, outcome.error)
    click.echo(outcome.summary())
    # skipped (another process is crawling the source) is no failure: that run reports its own
    if outcome.status not in ("ok", "skipped"):
        raise IpwarnError(
            f"crawl of {source} {outcome.status}: {outcome.error or 'see the crawl log'}"
        )

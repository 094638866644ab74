"""`ipwarn indicators`: the strategy's statistical indicators for a region and a period."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import click
from sqlalchemy import func, select

from warning.app import App
from warning.config import Settings
from warning.errors import InputError, Problem, writing_to
from warning.forecast.cli import parse_date
from warning.forecast.data import load_documents
from warning.indicators.applicant_types import TYPE_ZH
from warning.indicators.compute import compute_indicators, previous_period
from warning.indicators.report import quarter_bounds, render_report
from warning.indicators.targets import load_targets
from warning.store.engine import Store
from warning.store.models import Document


def period_of(
    store: Store, year: int | None, since: dt.date | None, until: dt.date | None
) -> tuple[dt.date, dt.date]:
    """``--year`` or ``--since/--until``; default: the latest year with documents."""
    if year is not None and (since or until):
        raise InputError([Problem("give --year or --since/--until, not both", field="--year")])
    if since or until:
        if not (since and until):
            raise InputError([Problem("give both --since and --until", field="--until")])
        if until < since:
            raise InputError([Problem("must not be before --since", field="--until")])
        return since, until
    if year is None:
        with store.read_session() as session:
            last = session.scalar(
                select(func.max(Document.publication_date)).where(Document.is_stub.is_(False))
            )
        year = last.year if last else dt.date.today().year
    if not 1985 <= year <= 2100:
        raise InputError([Problem(f"not a plausible year: {year}", field="--year")])
    return dt.date(year, 1, 1), dt.date(year, 12, 31)


def run_indicators(
    store: Store,
    settings: Settings,
    *,
    region: str | None = None,
    year: int | None = None,
    since: dt.date | None = None,
    until: dt.date | None = None,
) -> dict[str, Any]:
    targets = load_targets(settings.indicator_targets_file)
    start, end = period_of(store, year, since, until)
    name = (region or (settings.local_regions[0] if settings.local_regions else "")).strip()
    if not name:
        raise InputError([Problem("no region given and local_regions is empty", field="--region")])
    first, _ = previous_period(start, end)
    with store.read_session() as session:
        docs = load_documents(session, since=first, until=end)
    return compute_indicators(docs, name, start, end, targets)


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.1f}%"


@click.command()
@click.option(
    "--year", type=int, default=None, help="A calendar year (default: the latest with data)."
)
@click.option("--since", default=None, metavar="YYYY-MM-DD")
@click.option("--until", default=None, metavar="YYYY-MM-DD")
@click.option(
    "--region", default=None, help="City or province (default: the first of local_regions)."
)
@click.option("--quarter", default=None, metavar="YYYYQn", help="A calendar quarter, e.g. 2026Q3.")
@click.option(
    "--report",
    "report_dir",
    default=None,
    type=click.Path(file_okay=False),
    help="Also write the report (HTML with charts, and PDF) into this directory.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the indicators as JSON.")
@click.pass_obj
def indicators(
    app: App,
    year: int | None,
    since: str | None,
    until: str | None,
    region: str | None,
    quarter: str | None,
    report_dir: str | None,
    as_json: bool,
) -> None:
    """Applications and grants, applicant types, growth against the strategy's targets."""
    start = parse_date(since, "--since") if since else None
    end = parse_date(until, "--until") if until else None
    if quarter:
        if year or start or end:
            raise InputError(
                [
                    Problem(
                        "give --quarter alone (not with --year/--since/--until)", field="--quarter"
                    )
                ]
            )
        start, end = quarter_bounds(quarter)
    result = run_indicators(
        app.store, app.settings, region=region, year=year, since=start, until=end
    )
    if report_dir:
        label = (
            quarter.upper().replace("-", "") if quarter else f"{result['since']}_{result['until']}"
        )
        with writing_to(report_dir, "--report"):
            html_path, pdf_path = render_report(result, Path(report_dir), label)
        click.echo(f"report: {html_path}\n        {pdf_path}", err=as_json)
    if as_json:
        click.echo(json.dumps(result, ensure_ascii=False, indent=2))
        return
    docs = result["documents"]
    click.echo(f"{result['region']}  {result['since']} .. {result['until']}")
    click.echo(
        f"  applications {result['applications']} (invention A {docs['A']}, utility U {docs['U']}, "
        f"design S {docs['S']}); grants {result['grants']} (invention B {docs['B']})"
    )
    click.echo(
        "  applicant types: "
        + ", ".join(f"{TYPE_ZH[t]} {n}" for t, n in result["applicant_types"].items())
    )
    click.echo(
        f"  enterprise share {_pct(result['enterprise_share'])}, invention share "
        f"{_pct(result['invention_share'])}, service-invention share "
        f"{_pct(result['service_invention_share'])}"
    )
    for t in result["targets"]:
        state = {True: "met", False: "NOT met", None: "no data"}[t["met"]]
        click.echo(f"  target {t['label']}: {_pct(t['value'])} — {state}")
    for a in result["top_applicants"][:5]:
        click.echo(f"  top: {a['name']} ({TYPE_ZH[a['type']]}) {a['documents']}")

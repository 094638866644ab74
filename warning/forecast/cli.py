"""`ipwarn forecast`: 12-week trend forecasts per sector, sub-field and IPC main group."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import click

from warning import dates
from warning.app import App
from warning.digest.weeks import IsoWeek
from warning.errors import InputError, Problem
from warning.forecast.expiring import run_expiring
from warning.forecast.service import DEFAULT_HORIZON, run_disputes, run_forecasts


def _fmt(value: float, measure: str) -> str:
    return f"{value * 100:.1f}%" if measure == "foreign_share" else f"{value:.1f}"


def _print_series(s: dict[str, Any]) -> None:
    measure = s["measure"]
    label = " / ".join(p for p in (s["sector"], s["subfield"], s["ipc"]) if p)
    flag = f"  [{s['flag'].upper()}]" if s["flag"] else ""
    click.echo(f"{label}  {measure}{flag}")
    hist = s["history"]
    click.echo(
        f"  history: {s['history_weeks']} weeks ({hist[0]['week']} .. {hist[-1]['week']}), "
        f"last 4: {', '.join(_fmt(h['value'], measure) for h in hist[-4:])}"
    )
    click.echo(f"  model: {s['model']}")
    for f in s["forecast"]:
        click.echo(
            f"    {f['week']}  {_fmt(f['mean'], measure):>8}  "
            f"80% [{_fmt(f['lo80'], measure)}, {_fmt(f['hi80'], measure)}]  "
            f"95% [{_fmt(f['lo95'], measure)}, {_fmt(f['hi95'], measure)}]"
        )
    click.echo(f"  reason: {s['reason']}")


def parse_week(text: str, option: str) -> IsoWeek:
    """An ISO week option; the error names the option."""
    try:
        return IsoWeek.parse(text)
    except InputError as exc:
        raise InputError([Problem(p.message, field=option) for p in exc.problems]) from exc


@click.command()
@click.option(
    "--as-of",
    "as_of",
    default=None,
    metavar="YYYY-Www",
    help="Use only data published up to this ISO week (default: the last week with data).",
)
@click.option("--sector", default=None, help="Only this sector (e.g. steel).")
@click.option(
    "--weeks",
    default=DEFAULT_HORIZON,
    show_default=True,
    type=int,
    help="Forecast horizon in weeks (1-52).",
)
@click.option("--json", "as_json", is_flag=True, help="Print every series as JSON.")
@click.option(
    "--all",
    "show_all",
    is_flag=True,
    help="Text output: also list IPC main groups without a forecast.",
)
@click.pass_obj
def forecast(
    app: App, as_of: str | None, sector: str | None, weeks: int, as_json: bool, show_all: bool
) -> None:
    """Forecast weekly publications, grants and the foreign share with 80/95 % intervals."""
    week = parse_week(as_of, "--as-of") if as_of else None
    result = run_forecasts(app.store, app.settings, as_of=week, sector=sector, horizon=weeks)
    if as_json:
        click.echo(json.dumps(result, ensure_ascii=False, indent=2))
        return
    if result["as_of"] is None:
        click.echo("no documents in the store yet: nothing to forecast")
        return
    series = result["series"]
    ok = [s for s in series if s["status"] == "ok"]
    short = [s for s in series if s["status"] != "ok"]
    click.echo(
        f"forecasts as of {result['as_of']}: {len(series)} series, {len(ok)} forecast, "
        f"{len(short)} with history too short"
    )
    flagged = [s for s in ok if s["flag"]]
    if flagged:
        click.echo("flagged:")
        for s in flagged:
            label = " / ".join(p for p in (s["sector"], s["subfield"], s["ipc"]) if p)
            click.echo(f"  {s['flag']:<8} {label} {s['measure']}")
    click.echo("")
    for s in series:
        if s["status"] == "ok":
            _print_series(s)
        elif s["ipc"] is None or show_all:
            label = " / ".join(p for p in (s["sector"], s["subfield"], s["ipc"]) if p)
            click.echo(f"{label}  {s['measure']}: {s['reason']}")


@click.command()
@click.option(
    "--months", default=3, show_default=True, type=int, help="Look ahead this many months."
)
@click.option("--sector", default=None, help="Only this sector (e.g. steel).")
@click.option(
    "--enterprise",
    "enterprise_id",
    default=None,
    help="Only the enterprise's scope (its subscriptions' sectors, sub-fields, IPC) and own patents.",
)
@click.option("--as-of", "as_of", default=None, metavar="YYYY-MM-DD", help="Default: today.")
@click.option("--json", "as_json", is_flag=True, help="Print the list as JSON.")
@click.pass_obj
def expiring(
    app: App,
    months: int,
    sector: str | None,
    enterprise_id: str | None,
    as_of: str | None,
    as_json: bool,
) -> None:
    """Rights in force whose term ends or whose annual fee falls due in the next N months."""
    day = parse_date(as_of, "--as-of") if as_of else None
    result = run_expiring(
        app.store,
        app.settings,
        months=months,
        sector=sector,
        enterprise_id=enterprise_id,
        as_of=day,
    )
    if as_json:
        click.echo(json.dumps(result, ensure_ascii=False, indent=2))
        return
    items = result["items"]
    expiries = [i for i in items if i["event"] == "expiry"]
    fees = [i for i in items if i["event"] == "fee_anniversary"]
    click.echo(
        f"{result['as_of']} .. {result['until']} ({result['scope']['label']}): "
        f"{len(expiries)} expiries, {len(fees)} fee anniversaries"
    )
    for i in items:
        own = " [own]" if i["own"] else ""
        what = (
            f"term ends {i['date']} (free to use from the day after)"
            if i["event"] == "expiry"
            else f"year {i['fee_year']} fee due {i['date']} (grace until {i['grace_until']})"
        )
        lapse = i.get("lapse_probability_12m")
        risk = f"  lapse 12m {lapse:.1%}" if lapse is not None else ""
        click.echo(f"  {i['number']:<16} {i['right_zh']}  {what}{risk}{own}  {i['title']}")
    model = result["lapse_model"]
    click.echo(model["reason"])
    calibration = model.get("calibration") or {}
    for d in calibration.get("deciles") or []:
        click.echo(
            f"  risk decile {d['decile']:>2}: {d['rights']:>5} rights, predicted "
            f"{d['predicted']:.1%}, observed {d['observed']:.1%}"
        )


def parse_date(text: str, option: str) -> dt.date:
    day = dates.parse_date(text, option)
    if day is None:
        raise InputError([Problem("a date is required (e.g. 2026-12-01)", field=option)])
    return day


@click.command()
@click.option(
    "--as-of", "as_of", default=None, metavar="YYYY-Www", help="Default: the last week with data."
)
@click.option("--sector", default=None, help="Only this sector (e.g. steel).")
@click.option("--top", default=10, show_default=True, type=click.IntRange(1, 1000))
@click.option("--json", "as_json", is_flag=True, help="Print every ranked field as JSON.")
@click.pass_obj
def disputes(app: App, as_of: str | None, sector: str | None, top: int, as_json: bool) -> None:
    """Rank fields by the dispute-prone index and show every component behind it."""
    week = parse_week(as_of, "--as-of") if as_of else None
    result = run_disputes(app.store, app.settings, as_of=week, sector=sector)
    if as_json:
        click.echo(json.dumps(result, ensure_ascii=False, indent=2))
        return
    if result["as_of"] is None:
        click.echo("no documents in the store yet")
        return
    fields = result["fields"]
    click.echo(
        f"dispute-prone fields {result['since']} .. {result['until']}: {len(fields)} fields with "
        f"at least {result['min_documents']} documents"
    )
    for rank, f in enumerate(fields[:top], 1):
        label = " / ".join(p for p in (f["sector"], f["subfield"], f["ipc"]) if p)
        click.echo(f"{rank:>3}. {label}  index {f['index']:.3f}  ({f['documents']} documents)")
        parts = [
            f"{name} {c['value']:g} (score {c['score']:.2f} x {c['weight']:.2f})"
            for name, c in f["components"].items()
        ]
        click.echo("       " + "; ".join(parts))

"""Forecast and indicator pages, and ``GET /api/v1/forecasts`` / ``GET /api/v1/indicators``.

Pages and API answer from the same functions as `ipwarn forecast`, `ipwarn disputes` and
`ipwarn indicators` (``warning.forecast.service``, ``warning.indicators.cli``). The forecasts
page shows sector and sub-field series (IPC main groups when a sector is chosen); the API gives
the `ipwarn forecast --json` shape.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel

from warning.dates import parse_date
from warning.digest.weeks import IsoWeek
from warning.errors import InputError, Problem
from warning.forecast.service import DEFAULT_HORIZON, run_disputes, run_forecasts
from warning.indicators.applicant_types import TYPE_ZH
from warning.indicators.cli import run_indicators
from warning.web.deps import need, render, settings_of, store_of
from warning.web.permissions import Principal
from warning.web.routers import NavItem
from warning.web.routers.api import ERRORS

router = APIRouter()
NAV = [
    NavItem("趋势预测", "/forecasts", "forecasts.read", 60),
    NavItem("统计指标", "/indicators", "indicators.read", 65),
]
Text = Annotated[str | None, Query(max_length=40)]


def _week(text: str | None, field: str) -> IsoWeek | None:
    if not text:
        return None
    try:
        return IsoWeek.parse(text)
    except InputError as exc:
        raise InputError([Problem(p.message, field=field) for p in exc.problems]) from exc


class HistoryPoint(BaseModel):
    week: str
    value: float


class ForecastPoint(BaseModel):
    week: str
    mean: float
    lo80: float
    hi80: float
    lo95: float
    hi95: float


class SeriesOut(BaseModel):
    sector: str
    subfield: str | None
    ipc: str | None
    measure: Literal["publications", "grants", "foreign_share"]
    status: Literal["ok", "history_too_short"]
    model: str | None
    history_weeks: int
    history: list[HistoryPoint]
    forecast: list[ForecastPoint]
    flag: Literal["emerging", "fading"] | None
    reason: str


class ForecastsOut(BaseModel):
    as_of: str | None
    series: list[SeriesOut]


class TargetOut(BaseModel):
    id: str
    label: str
    measure: str
    min: float | None
    max: float | None
    by: int | None
    value: float | None
    met: bool | None


class IndicatorsOut(BaseModel):
    region: str
    since: dt.date
    until: dt.date
    documents: dict[str, int]
    applicant_types: dict[str, int]
    enterprise_share: float | None
    invention_share: float | None
    service_invention_share: float | None
    applications: int
    grants: int
    growth: dict[str, float | None]
    by_month: dict[str, dict[str, int]]
    foreign_filings: dict[str, Any]
    top_applicants: list[dict[str, Any]]
    sectors: dict[str, Any]
    targets: list[TargetOut]


def _forecasts(
    request: Request, as_of: str | None, sector: str | None, weeks: int, include_ipc: bool
) -> dict[str, Any]:
    return run_forecasts(
        store_of(request),
        settings_of(request),
        as_of=_week(as_of, "as_of"),
        sector=sector or None,
        horizon=weeks,
        include_ipc=include_ipc,
    )


@router.get("/forecasts", include_in_schema=False)
async def forecasts_page(
    request: Request,
    as_of: Text = None,
    sector: Text = None,
    principal: Principal = need("forecasts.read"),
) -> Response:
    data = _forecasts(request, as_of, sector, DEFAULT_HORIZON, include_ipc=bool(sector))
    disputes = run_disputes(
        store_of(request), settings_of(request), as_of=_week(as_of, "as_of"), sector=sector or None
    )
    ok = [s for s in data["series"] if s["status"] == "ok"]
    page = {
        "as_of": data["as_of"],
        "sector": sector,
        "series": [
            {
                "label": " / ".join(p for p in (s["sector"], s["subfield"], s["ipc"]) if p),
                "measure": s["measure"],
                "model": s["model"],
                "history_weeks": s["history_weeks"],
                "last": s["history"][-1]["value"],
                "next": s["forecast"][0] if s["forecast"] else None,
                "end": s["forecast"][-1] if s["forecast"] else None,
                "flag": s["flag"],
                "reason": s["reason"],
            }
            for s in ok
        ],
        "too_short": len(data["series"]) - len(ok),
        "disputes": disputes["fields"][:10],
    }
    return render(request, "forecasts/page.html", page)


@router.get("/api/v1/forecasts", response_model=ForecastsOut, responses=ERRORS, tags=["api"])
async def forecasts_api(
    request: Request,
    as_of: Text = None,
    sector: Text = None,
    weeks: Annotated[int, Query(ge=1, le=52)] = DEFAULT_HORIZON,
    principal: Principal = need("forecasts.read"),
) -> dict[str, Any]:
    """Every series' history, chosen model, forecast with 80/95 % intervals, flag and reason."""
    return _forecasts(request, as_of, sector, weeks, include_ipc=True)


def _indicators(
    request: Request,
    year: int | None,
    since: str | None,
    until: str | None,
    region: str | None,
) -> dict[str, Any]:
    return run_indicators(
        store_of(request),
        settings_of(request),
        region=region or None,
        year=year,
        since=parse_date(since, "since"),
        until=parse_date(until, "until"),
    )


Year = Annotated[int | None, Query(ge=1985, le=2100)]


@router.get("/indicators", include_in_schema=False)
async def indicators_page(
    request: Request,
    year: Year = None,
    since: Text = None,
    until: Text = None,
    region: Text = None,
    principal: Principal = need("indicators.read"),
) -> Response:
    data = _indicators(request, year, since, until, region)
    return render(request, "indicators/page.html", {**data, "type_zh": TYPE_ZH})


@router.get("/api/v1/indicators", response_model=IndicatorsOut, responses=ERRORS, tags=["api"])
async def indicators_api(
    request: Request,
    year: Year = None,
    since: Text = None,
    until: Text = None,
    region: Text = None,
    principal: Principal = need("indicators.read"),
) -> dict[str, Any]:
    """The strategy's indicators for a region and a period, with the targets."""
    return _indicators(request, year, since, until, region)

"""Trend forecasts for every field: series -> model choice -> forecast with intervals -> flag.

``forecast_documents`` is a pure function of document rows and the as-of week (the evaluation
and the benchmark call it directly); ``run_forecasts`` reads the store first, using only
documents published up to the end of the as-of week, so a forecast made "as of" a past week can
be checked against what followed.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sqlalchemy import func, select

from warning.config import Settings
from warning.digest.weeks import IsoWeek, last_complete_week
from warning.errors import InputError, Problem
from warning.forecast.data import StoreDoc, load_documents
from warning.forecast.select import (
    DEFAULT_MAX_ETS_SERIES,
    ETS_MIN_HISTORY,
    ETS_MIN_MEAN,
    Outcome,
    forecast_series,
)
from warning.forecast.series import Series, build_series
from warning.store.engine import Store
from warning.store.models import Document, utcnow
from warning.taxonomy import load_taxonomy

DEFAULT_HORIZON = 12
MAX_HORIZON = 52


def _round(value: float, counts: bool) -> float:
    return round(float(value), 2 if counts else 4)


def series_json(series: Series, outcome: Outcome, as_of: IsoWeek) -> dict[str, Any]:
    counts = series.is_count
    forecast: list[dict[str, Any]] = []
    if outcome.forecast is not None:
        f = outcome.forecast
        for k in range(len(f.mean)):
            forecast.append(
                {
                    "week": str(as_of.shift(k + 1)),
                    "mean": _round(f.mean[k], counts),
                    "lo80": _round(f.lo80[k], counts),
                    "hi80": _round(f.hi80[k], counts),
                    "lo95": _round(f.lo95[k], counts),
                    "hi95": _round(f.hi95[k], counts),
                }
            )
    return {
        "sector": series.key.sector,
        "subfield": series.key.subfield,
        "ipc": series.key.ipc,
        "measure": series.key.measure,
        "status": outcome.status,
        "model": outcome.model,
        "history_weeks": len(series.values),
        "history": [
            {"week": str(w), "value": _round(v, counts)}
            for w, v in zip(series.weeks, series.values, strict=True)
        ],
        "forecast": forecast,
        "flag": outcome.flag,
        "reason": outcome.reason,
    }


def ets_allowed(all_series: list[Series], max_ets_series: int) -> set[int]:
    """Indexes of the series that get the ETS candidate: sectors, then sub-fields, then IPC
    groups; within a level the largest first (share series after the count series)."""
    eligible = [
        i
        for i, s in enumerate(all_series)
        if len(s.values) >= ETS_MIN_HISTORY
        and (not s.is_count or float(np.mean(s.values)) >= ETS_MIN_MEAN)
    ]
    level = {"sector": 0, "subfield": 1, "ipc": 2}

    def priority(i: int) -> tuple[int, int, float]:
        s = all_series[i]
        return (level[s.key.level], not s.is_count, -float(np.mean(s.values)))

    return set(sorted(eligible, key=priority)[:max_ets_series])


def forecast_documents(
    docs: list[StoreDoc],
    as_of: IsoWeek,
    *,
    horizon: int = DEFAULT_HORIZON,
    sector: str | None = None,
    max_ets_series: int = DEFAULT_MAX_ETS_SERIES,
    include_ipc: bool = True,
) -> dict[str, Any]:
    """``{"as_of", "series": [...]}`` for every field with documents up to ``as_of``."""
    all_series = build_series(docs, as_of, sector=sector)
    if not include_ipc:
        all_series = [s for s in all_series if s.key.ipc is None]
    allowed = ets_allowed(all_series, max_ets_series)
    out = []
    for i, series in enumerate(all_series):
        outcome = forecast_series(
            np.asarray(series.values),
            horizon,
            series.is_count,
            allow_ets=i in allowed,
            sizes=series.sizes,
        )
        out.append(series_json(series, outcome, as_of))
    return {"as_of": str(as_of), "series": out}


def latest_data_week(store: Store, settings: Settings) -> IsoWeek | None:
    """The last complete week (bureau time) or, if the store's data ends earlier, its last week."""
    limit = last_complete_week(utcnow(), settings.tz)
    with store.read_session() as session:
        last = session.scalar(
            select(func.max(Document.publication_date))
            .where(Document.is_stub.is_(False))
            .where(Document.publication_date <= limit.sunday)
        )
    return IsoWeek.of(last) if last else None


def check_sector(sector: str | None) -> None:
    known = load_taxonomy().sector_ids
    if sector is not None and sector not in known:
        raise InputError(
            [Problem(f"unknown sector {sector!r}; known: {', '.join(known)}", field="--sector")]
        )


def check_horizon(weeks: int) -> None:
    if not 1 <= weeks <= MAX_HORIZON:
        raise InputError(
            [Problem(f"must be between 1 and {MAX_HORIZON} weeks, got {weeks}", field="--weeks")]
        )


def run_forecasts(
    store: Store,
    settings: Settings,
    *,
    as_of: IsoWeek | None = None,
    sector: str | None = None,
    horizon: int = DEFAULT_HORIZON,
    include_ipc: bool = True,
) -> dict[str, Any]:
    """Read the store up to ``as_of`` (default: the last week with data) and forecast."""
    check_sector(sector)
    check_horizon(horizon)
    week = as_of or latest_data_week(store, settings)
    if week is None:
        return {"as_of": None, "series": []}
    with store.read_session() as session:
        docs = load_documents(session, until=week.sunday)
    return forecast_documents(
        docs,
        week,
        horizon=horizon,
        sector=sector,
        max_ets_series=settings.forecast_max_ets_series,
        include_ipc=include_ipc,
    )


def run_disputes(
    store: Store,
    settings: Settings,
    *,
    as_of: IsoWeek | None = None,
    sector: str | None = None,
) -> dict[str, Any]:
    """The dispute-prone field index as of a week, with the forecasts' emerging flags."""
    from warning.forecast.dispute import dispute_index, emerging_fields

    check_sector(sector)
    week = as_of or latest_data_week(store, settings)
    if week is None:
        return {"as_of": None, "fields": []}
    with store.read_session() as session:
        docs = load_documents(session, until=week.sunday, with_events=True)
    if sector:
        docs = [d for d in docs if sector in d.sectors]
    forecasts = forecast_documents(
        docs, week, sector=sector, max_ets_series=settings.forecast_max_ets_series
    )
    result = dispute_index(docs, week, tuple(settings.local_regions), emerging_fields(forecasts))
    if sector:
        result["fields"] = [f for f in result["fields"] if f["sector"] == sector]
    return result

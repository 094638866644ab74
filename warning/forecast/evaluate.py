"""Evaluation of the trend forecasts on real 2019 gazette records re-dated into weekly bulletins.

``python -m warning.forecast.evaluate [--replications R] [--json] [--no-ets]``

The pool is the 64,466 real invention and utility-model records of the two 2019-07 CNIPA
gazette days (``models/data/gazette_2019.jsonl.gz``: kind and IPC; applicant origin from
``warning/forecast/data/gazette_2019_foreign.txt.gz``). Two gazette days are one week of CNIPA
publications, so a field's count in the pool is its real weekly volume. A year of 52 weekly
bulletins is made per field by drawing that week's number of records from the field's real
records (with replacement, i.e. re-dated and re-numbered copies); each drawn record keeps its
real kind (A, B or U: grants are B and U) and its real applicant origin. Weekly volumes follow a
known structure, with negative-binomial noise (dispersion 0.01, about ±10 % at large volumes
plus the Poisson noise):

- ``steady``: the field's real weekly volume every week;
- ``trend``: rising linearly from 0.6 to 1.4 times it over the year;
- ``step``: 1.5 times it from week 40 on (the injected change);
- ``foreign_surge``: steady volume, but from week 44 on the foreign applicants' share rises by
  the larger of 10 points and its own base share.

Fields: the five sectors and five IPC main groups chosen by volume (the groups whose real
weekly counts are closest to 200, 50, 20, 10 and 5), so small local-sized fields are covered.

Reported (one figure per measure and over all):

- **MASE** (headline: steady and trend series; the step series separately, since a forecast
  made before the step cannot foresee it) of the chosen model's 12-week forecasts at origins 28, 32, 36 and 40 (steady, trend
  and step scenarios), scaled by the in-sample MAE of the seasonal-naive forecast (with one
  year of history the season is one week, i.e. naive), next to the MASE of the seasonal-naive
  forecasts themselves;
- **coverage**: the share of actual values inside the 80 % and 95 % intervals;
- **detection rate**: step series flagged emerging 2 and 4 weeks after the change, foreign-share
  series flagged emerging 4 weeks after the surge;
- **false-alarm rate**: flags (emerging or fading) on steady series at as-of weeks 23, 27, ...,
  51, and on step and surge series before their change.
"""

from __future__ import annotations

import argparse
import gzip
import json
import sys
import time
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from importlib import resources
from typing import Any

import numpy as np

from warning.forecast.models import fit_seasonal_naive, season_of
from warning.forecast.select import forecast_series
from warning.forecast.series import SHARE_MIN_DOCUMENTS, main_group
from warning.ipc import matches_prefix
from warning.taxonomy import load_taxonomy

WEEKS = 52
HORIZON = 12
ORIGINS = (28, 32, 36, 40)
STEP_WEEK = 40
STEP_FACTOR = 1.5
SURGE_WEEK = 44
DISPERSION = 0.01
GROUP_VOLUMES = (200, 50, 20, 10, 5)
FALSE_ALARM_AS_OF = tuple(range(23, WEEKS, 4))
SCENARIOS = ("steady", "trend", "step", "foreign_surge")
MEASURES = ("publications", "grants", "foreign_share")


@dataclass(frozen=True)
class Field:
    label: str
    grant: np.ndarray
    foreign: np.ndarray

    @property
    def volume(self) -> int:
        return len(self.grant)


def load_fields() -> list[Field]:
    """The five sectors and five IPC main groups of the real pool, with kinds and origins."""
    taxonomy = load_taxonomy()
    foreign_raw = resources.files("warning.forecast").joinpath("data/gazette_2019_foreign.txt.gz")
    foreign = frozenset(gzip.decompress(foreign_raw.read_bytes()).decode("utf-8").split())
    pool = resources.files("models").joinpath("data/gazette_2019.jsonl.gz")
    members: dict[str, list[tuple[bool, bool]]] = defaultdict(list)
    for line in gzip.decompress(pool.read_bytes()).decode("utf-8").splitlines():
        rec = json.loads(line)
        row = (rec["kind"] != "invention_published", rec["number"] in foreign)
        for sector in taxonomy.sectors_for_ipc(rec["ipc"]):
            members[sector].append(row)
            prefixes = taxonomy.sector(sector).ipc
            groups = {
                g
                for s in rec["ipc"]
                if matches_prefix(s, prefixes) and (g := main_group(s)) is not None
            }
            for group in groups:
                members[f"{sector}/{group}"].append(row)
    labels = list(taxonomy.sector_ids)
    group_labels = sorted(k for k in members if "/" in k)
    for volume in GROUP_VOLUMES:
        best = min(
            (g for g in group_labels if g not in labels),
            key=lambda g: (abs(len(members[g]) - volume), g),
        )
        labels.append(best)
    return [
        Field(
            label,
            np.array([g for g, _ in members[label]], dtype=bool),
            np.array([f for _, f in members[label]], dtype=bool),
        )
        for label in labels
    ]


def simulate(field: Field, scenario: str, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """One year of weekly bulletins of ``field``: publications, grants and foreign share."""
    t = np.arange(WEEKS)
    base = float(field.volume)
    rate = np.full(WEEKS, base)
    if scenario == "trend":
        rate = base * (0.6 + 0.8 * t / (WEEKS - 1))
    elif scenario == "step":
        rate = np.where(t >= STEP_WEEK, base * STEP_FACTOR, base)
    size = 1 / DISPERSION
    counts = rng.negative_binomial(size, size / (size + rate))
    base_share = float(field.foreign.mean())
    surge_share = min(0.95, base_share + max(0.10, base_share))
    foreign_idx = np.flatnonzero(field.foreign)
    domestic_idx = np.flatnonzero(~field.foreign)
    grants = np.zeros(WEEKS)
    share = np.full(WEEKS, np.nan)
    for week, n in enumerate(counts):
        if scenario == "foreign_surge" and week >= SURGE_WEEK and len(foreign_idx):
            n_foreign = rng.binomial(n, surge_share)
            drawn = np.concatenate(
                [
                    rng.choice(foreign_idx, n_foreign),
                    rng.choice(domestic_idx, n - n_foreign),
                ]
            )
        else:
            drawn = rng.integers(0, field.volume, n)
        grants[week] = field.grant[drawn].sum()
        if n >= SHARE_MIN_DOCUMENTS:
            share[week] = field.foreign[drawn].mean()
    return {
        "publications": counts.astype(float),
        "grants": grants,
        "foreign_share": share,
        # the documents each week's share is taken over (every drawn record's origin is known)
        "foreign_share_sizes": np.where(np.isnan(share), np.nan, counts.astype(float)),
    }


def _observed(values: np.ndarray, end: int) -> np.ndarray:
    """Weeks before ``end`` with a value (a foreign-share week needs enough documents)."""
    window = values[:end]
    return window[~np.isnan(window)]


@dataclass
class Tally:
    errors: list[float]
    naive_errors: list[float]
    in80: int = 0
    in95: int = 0
    points: int = 0
    beats: int = 0
    forecasts: int = 0


def evaluate(
    replications: int = 3,
    allow_ets: bool = True,
    seed: int = 2019,
    only: tuple[str, ...] = (),
) -> dict[str, Any]:
    """Run every scenario on every field (``only``: the fields whose label starts so)."""
    fields = [f for f in load_fields() if not only or f.label.startswith(only)]
    rng = np.random.default_rng(seed)
    tallies = {(m, s): Tally([], []) for m in MEASURES for s in SCENARIOS if s != "foreign_surge"}
    models: dict[str, int] = defaultdict(int)
    detection: dict[str, list[bool]] = defaultdict(list)
    alarms: dict[str, list[bool]] = defaultdict(list)
    started = time.perf_counter()
    for _ in range(replications):
        for field in fields:
            for scenario in SCENARIOS:
                data = simulate(field, scenario, rng)
                for measure in MEASURES:
                    values = data[measure]
                    counts = measure != "foreign_share"
                    sizes = None if counts else data["foreign_share_sizes"]
                    if scenario != "foreign_surge":
                        _accuracy(
                            values, counts, allow_ets, tallies[measure, scenario], models, sizes
                        )
                    _flags(
                        scenario,
                        measure,
                        values,
                        counts,
                        allow_ets,
                        detection,
                        alarms,
                        field.label,
                        sizes,
                    )
    return {
        "fields": [{"field": f.label, "weekly_volume": f.volume} for f in fields],
        "replications": replications,
        "ets": allow_ets,
        # headline: the series without an unforeseeable break (steady and trend)
        "accuracy": {
            m: _summary(
                _merge(t for (k, sc), t in tallies.items() if k == m and sc in ("steady", "trend"))
            )
            for m in MEASURES
        },
        "accuracy_by_scenario": {f"{m}/{s}": _summary(t) for (m, s), t in tallies.items()},
        "models_chosen": dict(sorted(models.items())),
        "detection": {k: _rate(v) for k, v in sorted(detection.items())},
        "false_alarms": {k: _rate(v) for k, v in sorted(alarms.items())},
        "seconds": round(time.perf_counter() - started, 1),
    }


def _sizes(values: np.ndarray, sizes: np.ndarray | None, end: int) -> np.ndarray | None:
    """The week sizes of :func:`_observed`'s weeks (shares only)."""
    if sizes is None:
        return None
    return sizes[:end][~np.isnan(values[:end])]


def _accuracy(
    values: np.ndarray,
    counts: bool,
    allow_ets: bool,
    tally: Tally,
    models: dict[str, int],
    sizes: np.ndarray | None = None,
) -> None:
    for origin in ORIGINS:
        history = _observed(values, origin)
        actual = values[origin : origin + HORIZON]
        keep = ~np.isnan(actual)
        if len(history) < 2 or not keep.any():
            continue
        outcome = forecast_series(
            history, HORIZON, counts, allow_ets=allow_ets, sizes=_sizes(values, sizes, origin)
        )
        if outcome.forecast is None:
            continue
        models[outcome.model or ""] += 1
        m = season_of(len(history))
        scale = float(np.mean(np.abs(history[m:] - history[:-m])))
        if scale == 0:
            continue
        f = outcome.forecast
        naive = fit_seasonal_naive(history, HORIZON, counts).mean
        a = actual[keep]
        err = float(np.mean(np.abs(a - f.mean[keep]))) / scale
        naive_err = float(np.mean(np.abs(a - naive[keep]))) / scale
        tally.errors.append(err)
        tally.naive_errors.append(naive_err)
        tally.beats += err < naive_err
        tally.forecasts += 1
        tally.in80 += int(np.sum((a >= f.lo80[keep]) & (a <= f.hi80[keep])))
        tally.in95 += int(np.sum((a >= f.lo95[keep]) & (a <= f.hi95[keep])))
        tally.points += int(keep.sum())


def _flag_at(
    values: np.ndarray,
    as_of: int,
    counts: bool,
    allow_ets: bool,
    sizes: np.ndarray | None = None,
) -> str | None:
    history = _observed(values, as_of + 1)
    week_sizes = _sizes(values, sizes, as_of + 1)
    return forecast_series(history, HORIZON, counts, allow_ets=allow_ets, sizes=week_sizes).flag


def _flags(
    scenario: str,
    measure: str,
    values: np.ndarray,
    counts: bool,
    allow_ets: bool,
    detection: dict[str, list[bool]],
    alarms: dict[str, list[bool]],
    label: str,
    sizes: np.ndarray | None = None,
) -> None:
    if scenario == "steady":
        for as_of in FALSE_ALARM_AS_OF:
            alarms[f"steady/{measure}"].append(
                _flag_at(values, as_of, counts, allow_ets, sizes) is not None
            )
    elif scenario == "step" and measure == "publications":
        for weeks_after in (2, 4):
            flag = _flag_at(values, STEP_WEEK + weeks_after - 1, counts, allow_ets)
            detection[f"step/publications/{weeks_after}w"].append(flag == "emerging")
            detection[f"step/publications/{weeks_after}w/{label}"].append(flag == "emerging")
        alarms["step/publications/before"].append(
            _flag_at(values, STEP_WEEK - 1, counts, allow_ets) is not None
        )
    elif scenario == "foreign_surge" and measure == "foreign_share":
        flag = _flag_at(values, SURGE_WEEK + 3, counts, allow_ets, sizes)
        detection["foreign_surge/foreign_share/4w"].append(flag == "emerging")
        detection[f"foreign_surge/foreign_share/4w/{label}"].append(flag == "emerging")
        alarms["foreign_surge/foreign_share/before"].append(
            _flag_at(values, SURGE_WEEK - 1, counts, allow_ets, sizes) is not None
        )


def _merge(tallies: Iterable[Tally]) -> Tally:
    out = Tally([], [])
    for t in tallies:
        out.errors += t.errors
        out.naive_errors += t.naive_errors
        out.in80 += t.in80
        out.in95 += t.in95
        out.points += t.points
        out.beats += t.beats
        out.forecasts += t.forecasts
    return out


def _rate(values: list[bool]) -> dict[str, Any]:
    return {"rate": round(sum(values) / len(values), 4) if values else None, "n": len(values)}


def _summary(t: Tally) -> dict[str, Any]:
    return {
        "forecasts": t.forecasts,
        "mase": round(float(np.mean(t.errors)), 3) if t.errors else None,
        "mase_seasonal_naive": round(float(np.mean(t.naive_errors)), 3) if t.naive_errors else None,
        "better_than_seasonal_naive": round(t.beats / t.forecasts, 3) if t.forecasts else None,
        "coverage80": round(t.in80 / t.points, 3) if t.points else None,
        "coverage95": round(t.in95 / t.points, 3) if t.points else None,
        "points": t.points,
    }


def _print(result: dict[str, Any]) -> None:
    print(
        f"fields: {', '.join(f['field'] + ' (' + str(f['weekly_volume']) + '/wk)' for f in result['fields'])}"
    )
    print(f"replications: {result['replications']}; ETS: {result['ets']}; {result['seconds']} s")
    print("| measure | forecasts | MASE | MASE seasonal-naive | better | 80 % cover | 95 % cover |")
    print("|---|---|---|---|---|---|---|")
    for m, s in [*result["accuracy"].items(), *result["accuracy_by_scenario"].items()]:
        print(
            f"| {m} | {s['forecasts']} | {s['mase']} | {s['mase_seasonal_naive']} | "
            f"{s['better_than_seasonal_naive']} | {s['coverage80']} | {s['coverage95']} |"
        )
    print(f"models chosen: {result['models_chosen']}")
    for name in ("detection", "false_alarms"):
        for k, v in result[name].items():
            print(f"{name}: {k}: {v['rate']} (n={v['n']})")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m warning.forecast.evaluate")
    parser.add_argument("--replications", type=int, default=3)
    parser.add_argument("--seed", type=int, default=2019)
    parser.add_argument("--no-ets", action="store_true", help="leave ETS out (faster)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    if args.replications < 1:
        parser.error("--replications must be at least 1")
    result = evaluate(args.replications, allow_ets=not args.no_ets, seed=args.seed)
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        _print(result)
    return 0


if __name__ == "__main__":
    sys.exit(main())

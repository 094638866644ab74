"""Model choice by rolling-origin back-test, the 12-week forecast, and the emerging/fading flag.

For a series of ``n`` observed weeks the back-test cuts the history at the origins ``n - 12``,
``n - 8`` and ``n - 4`` (those leaving at least the model's minimum history), forecasts the
weeks after each origin (up to the horizon) and scores the absolute errors over all of them
(MAE). The model with the lowest MAE is chosen; ties go to the simpler model (the order of
:data:`warning.forecast.models.MODELS`). The chosen model is then fitted on the whole history.

Minimum history (:data:`MIN_HISTORY_WEEKS`): fewer observed weeks and the series is reported as
"history too short" — nothing is extrapolated. Every candidate is scored on the same origins:
ETS and the GLM need 20 weeks at the earliest origin, so they compete from 32 observed weeks on.

Intervals of a share series given its weeks' sizes (the foreign share): the binomial variance
of a week of the recent size plus the extra-binomial variance the back-test measured (see
:func:`share_intervals`). Intervals of counts: when the chosen model's own 80 % (95 %)
intervals covered fewer than 80 % (95 %) of the back-test's actual values, they are stretched
about the mean by the factor that would have covered them (the 80th / 95th percentile of error
over half-width; at least
:data:`MIN_CALIBRATION_POINTS` back-test points, at most :data:`MAX_WIDEN`). The reason says so.

Flag: the chosen model is fitted on the history without its last :data:`RECENT_WEEKS` weeks and
forecasts those weeks. The series is **emerging** when at least :data:`FLAG_MIN_WEEKS` of them
lie above the upper 95 % bound, **fading** when as many lie below the lower one; a count series
needs at least :data:`FLAG_MIN_VOLUME` documents in the recent weeks to be flagged at all (a
jump from 0 to 2 is noise, not a trend).

Cost cap (see ``warning.forecast.service.ets_allowed``): ETS is the one candidate with a numerical fit (about 0.1 s per fit on an idle core).
Its parameters are estimated twice per series — at the back-test's first origin (then re-used,
with the states re-filtered, at the later origins) and on the whole history (re-used for the
flag's forecast). It competes only
for count series averaging at least :data:`ETS_MIN_MEAN` per week (and share series), with at
least :data:`ETS_MIN_HISTORY` weeks, and for at most ``forecast_max_ets_series`` series per run:
sectors first, then sub-fields, then IPC main groups, the largest first. The reason says when
the cap left ETS out.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from warning.forecast.models import (
    MODELS,
    Forecast,
    ModelSpec,
    model,
    normal_intervals,
    season_of,
)

MIN_HISTORY_WEEKS = 12
RECENT_WEEKS = 4
FLAG_MIN_WEEKS = 2
FLAG_MIN_VOLUME = 5
BACKTEST_OFFSETS = (12, 8, 4)
ETS_MIN_MEAN = 3.0
#: the count model's trend needs at least one document a week on average (sparser series: mean
#: or seasonal-naive; a trend through mostly-zero weeks is noise, and the IRLS fit is the cost)
GLM_MIN_MEAN = 1.0
#: ETS (min history 20) is scored at the back-test's first origin, 12 weeks back
ETS_MIN_HISTORY = 32
DEFAULT_MAX_ETS_SERIES = 100
#: interval calibration needs this many back-test points, and stretches by at most MAX_WIDEN
MIN_CALIBRATION_POINTS = 8
MAX_WIDEN = 3.0
#: a share's binomial variance is taken at its level over this many recent weeks
SHARE_LEVEL_WEEKS = 13


@dataclass(frozen=True)
class Outcome:
    status: str
    model: str | None
    forecast: Forecast | None
    #: model name -> back-test MAE (models that could be back-tested)
    scores: dict[str, float]
    flag: str | None
    reason: str


def candidates(y: np.ndarray, counts: bool, allow_ets: bool) -> list[ModelSpec]:
    result = []
    for spec in MODELS:
        if spec.counts_only and not (counts and float(np.mean(y)) >= GLM_MIN_MEAN):
            continue
        if spec.expensive and not (allow_ets and float(np.mean(y)) >= _ets_min_mean(counts)):
            continue
        result.append(spec)
    return result


def _ets_min_mean(counts: bool) -> float:
    return ETS_MIN_MEAN if counts else 0.0


def bounds(counts: bool) -> float | None:
    return None if counts else 1.0


def origins_of(n: int) -> list[int]:
    """The back-test origins of a series of ``n`` weeks (each leaving the cheap models' minimum)."""
    floor = min(m.min_history for m in MODELS)
    return [n - offset for offset in BACKTEST_OFFSETS if n - offset >= floor]


@dataclass(frozen=True)
class Backtest:
    mae: float
    #: per back-test point: the error over the interval's half-width on its side (80 %, 95 %)
    z80: tuple[float, ...]
    z95: tuple[float, ...]
    #: shares with known week sizes, per back-test point: the squared error less the binomial
    #: variance of the actual week's share, p(1 - p) / n (what the binomial does not explain)
    excess: tuple[float, ...] = ()

    def widen(self, nominal: float) -> float:
        """The factor that gives the intervals their nominal coverage on the back-test (>= 1)."""
        z = self.z80 if nominal == 0.80 else self.z95
        if len(z) < MIN_CALIBRATION_POINTS:
            return 1.0
        return float(min(MAX_WIDEN, max(1.0, np.quantile(z, nominal))))


def _z(actual: np.ndarray, mean: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> list[float]:
    half = np.where(actual >= mean, hi - mean, mean - lo)
    err = np.abs(actual - mean)
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.where(half > 0, err / np.where(half > 0, half, 1), np.where(err > 0, MAX_WIDEN, 0.0))
    return [float(v) for v in z]


def backtest(
    spec: ModelSpec,
    y: np.ndarray,
    horizon: int,
    counts: bool,
    origins: list[int],
    sizes: np.ndarray | None = None,
) -> Backtest | None:
    """Errors over the rolling origins (None when there is none)."""
    errors: list[float] = []
    z80: list[float] = []
    z95: list[float] = []
    excess: list[float] = []
    params: Any = None
    for i, origin in enumerate(origins):
        h = min(horizon, len(y) - origin)
        if spec.estimate is not None and spec.forecast_with is not None:
            # costly models: parameters estimated once, at the first origin, then re-filtered
            if i == 0:
                params = spec.estimate(y[:origin])
            f = spec.forecast_with(y[:origin], h, counts, params)
        else:
            f = spec.fit(y[:origin], h, counts)
        f = f.clipped(bounds(counts))
        actual = y[origin : origin + h]
        errors.extend(np.abs(actual - f.mean).tolist())
        z80 += _z(actual, f.mean, f.lo80, f.hi80)
        z95 += _z(actual, f.mean, f.lo95, f.hi95)
        if sizes is not None:
            p = np.clip(f.mean, 0.0, 1.0)
            n = np.maximum(sizes[origin : origin + h], 1.0)
            excess += ((actual - f.mean) ** 2 - p * (1 - p) / n).tolist()
    if not errors:
        return None
    return Backtest(float(np.mean(errors)), tuple(z80), tuple(z95), tuple(excess))


def choose(
    y: np.ndarray,
    horizon: int,
    counts: bool,
    allow_ets: bool = True,
    sizes: np.ndarray | None = None,
) -> tuple[ModelSpec, dict[str, Backtest]]:
    """The model with the lowest back-test MAE; every candidate is scored on the same origins."""
    origins = origins_of(len(y))
    tests: dict[str, Backtest] = {}
    for spec in candidates(y, counts, allow_ets):
        if not origins or min(origins) < spec.min_history:
            continue
        result = backtest(spec, y, horizon, counts, origins, sizes)
        if result is not None:
            tests[spec.name] = result
    if not tests:
        return model("mean"), tests
    order = [m.name for m in MODELS]
    best = min(tests, key=lambda name: (round(tests[name].mae, 9), order.index(name)))
    return model(best), tests


def widened(f: Forecast, k80: float, k95: float) -> Forecast:
    """Intervals stretched about the mean (the back-test said they were too narrow)."""
    return Forecast(
        f.mean,
        f.mean - k80 * (f.mean - f.lo80),
        f.mean + k80 * (f.hi80 - f.mean),
        f.mean - k95 * (f.mean - f.lo95),
        f.mean + k95 * (f.hi95 - f.mean),
    )


def share_sizes_ahead(sizes: np.ndarray) -> int:
    """The week size a share forecast assumes: the mean of the last :data:`RECENT_WEEKS` weeks'
    (the most recent volume, so that a growing or shrinking field is judged at its size now)."""
    return max(1, round(float(np.mean(sizes[-RECENT_WEEKS:]))))


def extra_binomial_variance(
    y: np.ndarray, sizes: np.ndarray, test: Backtest | None, model_name: str
) -> float:
    """What a share forecast's error variance holds beyond the binomial variance of the week.

    From the chosen model's back-test when it has :data:`MIN_CALIBRATION_POINTS` points: the
    mean of the squared errors less each actual week's binomial variance ``p(1 - p) / n``, which
    includes the error of the model's level at the horizons it was tested on. Otherwise
    in-sample, by the method of moments: the history's variance less its mean binomial variance
    (``tau2``, how much the share itself moves from week to week) plus the variance of the
    model's level (for the other models the mean of the history). For ``seasonal_naive`` the
    in-sample figure is also a floor: its level is the one week it repeats (that week's binomial
    variance plus ``tau2``), and it tends to be chosen when its back-test errors were small by
    luck. Never below 0.
    """
    n = np.maximum(sizes, 1.0)
    p = float(np.sum(y * n) / np.sum(n))
    binomial = p * (1 - p) / n
    tau2 = float(np.var(y, ddof=1)) - float(np.mean(binomial)) if len(y) > 1 else 0.0
    naive = model_name == "seasonal_naive"
    if naive:
        level = float(p * (1 - p) / n[-season_of(len(y))]) + tau2
    else:
        level = tau2 / len(y) + p * (1 - p) / float(np.sum(n))
    floor = max(0.0, tau2 + level)
    if test is not None and len(test.excess) >= MIN_CALIBRATION_POINTS:
        tested = max(0.0, float(np.mean(test.excess)))
        return max(floor, tested) if naive else tested
    return floor


def share_intervals(mean: np.ndarray, level: float, size: int, extra: float) -> Forecast:
    """Normal prediction intervals for a week's share of ``size`` documents around ``mean``,
    with the binomial variance ``level (1 - level) / size`` of such a week plus the
    extra-binomial variance ``extra`` (clipped to [0, 1] by the caller).

    ``level`` is the share of the recent weeks (:data:`SHARE_LEVEL_WEEKS`, weighted by size),
    not the point forecast: a naive forecast of 0 must not claim a binomial variance of 0.
    """
    sd = np.full(len(mean), math.sqrt(max(level * (1 - level) / size + extra, 0.0)))
    return normal_intervals(np.asarray(mean, dtype=float), sd)


def share_level(y: np.ndarray, sizes: np.ndarray) -> float:
    n = np.maximum(sizes[-SHARE_LEVEL_WEEKS:], 1.0)
    return float(np.sum(y[-SHARE_LEVEL_WEEKS:] * n) / np.sum(n))


def flag_of(
    spec: ModelSpec, y: np.ndarray, counts: bool, fmt: str = "{:.1f}", params: Any = None
) -> tuple[str | None, str]:
    """``("emerging" | "fading" | None, reason)`` from the recent weeks against a prior forecast."""
    n = len(y)
    if n - RECENT_WEEKS < MIN_HISTORY_WEEKS:
        return (
            None,
            f"no flag: fewer than {MIN_HISTORY_WEEKS} weeks before the recent {RECENT_WEEKS}",
        )
    if spec.min_history > n - RECENT_WEEKS:
        spec = model("mean")
    recent = y[-RECENT_WEEKS:]
    if counts and float(recent.sum()) < FLAG_MIN_VOLUME:
        return (
            None,
            f"no flag: fewer than {FLAG_MIN_VOLUME} documents in the last {RECENT_WEEKS} weeks",
        )
    if params is not None and spec.forecast_with is not None:
        prior = spec.forecast_with(y[:-RECENT_WEEKS], RECENT_WEEKS, counts, params)
    else:
        prior = spec.fit(y[:-RECENT_WEEKS], RECENT_WEEKS, counts)
    prior = prior.clipped(bounds(counts))
    above = int(np.sum(recent > prior.hi95))
    below = int(np.sum(recent < prior.lo95))
    shown = ", ".join(fmt.format(v) for v in recent)
    if above >= FLAG_MIN_WEEKS:
        return "emerging", (
            f"emerging: {above} of the last {RECENT_WEEKS} weeks ({shown}) above the upper 95 % "
            f"bound ({fmt.format(float(prior.hi95.max()))}) of the {spec.name} forecast made before them"
        )
    if below >= FLAG_MIN_WEEKS:
        return "fading", (
            f"fading: {below} of the last {RECENT_WEEKS} weeks ({shown}) below the lower 95 % "
            f"bound ({fmt.format(float(prior.lo95.min()))}) of the {spec.name} forecast made before them"
        )
    return None, (
        f"no flag: the last {RECENT_WEEKS} weeks ({shown}) lie within the 95 % interval "
        f"of the {spec.name} forecast made before them"
    )


def forecast_series(
    y: np.ndarray,
    horizon: int,
    counts: bool,
    *,
    allow_ets: bool = True,
    sizes: np.ndarray | list[float] | None = None,
) -> Outcome:
    """Back-test, choose, forecast and flag one series of observed weekly values.

    ``sizes``: for a share series, each week's number of documents the share is taken over;
    with them the intervals are the binomial variance of a week of the recent size plus the
    extra-binomial variance measured in the back-test (see :func:`share_intervals`), instead of
    the model's own intervals widened to the back-test's coverage.
    """
    y = np.asarray(y, dtype=float)
    weights = None if counts or sizes is None else np.asarray(sizes, dtype=float)
    if weights is not None and len(weights) != len(y):
        raise ValueError(f"{len(weights)} week sizes for {len(y)} weeks")
    if len(y) < MIN_HISTORY_WEEKS:
        return Outcome(
            "history_too_short",
            None,
            None,
            {},
            None,
            f"history too short: {len(y)} observed weeks, at least {MIN_HISTORY_WEEKS} needed",
        )
    spec, tests = choose(y, horizon, counts, allow_ets, weights)
    scores = {name: round(t.mae, 4) for name, t in tests.items()}
    params = spec.estimate(y) if spec.estimate is not None else None
    if params is not None and spec.forecast_with is not None:
        forecast = spec.forecast_with(y, horizon, counts, params)
    else:
        forecast = spec.fit(y, horizon, counts)
    chosen = tests.get(spec.name)
    if weights is not None:
        k80 = k95 = 1.0
        size = share_sizes_ahead(weights)
        tau2 = extra_binomial_variance(y, weights, chosen, spec.name)
        mean = np.clip(forecast.mean, 0.0, 1.0)
        forecast = share_intervals(mean, share_level(y, weights), size, tau2).clipped(1.0)
    else:
        k80, k95 = (chosen.widen(0.80), chosen.widen(0.95)) if chosen else (1.0, 1.0)
        forecast = widened(forecast, k80, max(k95, k80)).clipped(bounds(counts))
    fmt = "{:.1f}" if counts else "{:.3f}"
    flag, flag_reason = flag_of(spec, y, counts, fmt, params)
    tested = ", ".join(f"{name} {score:.3g}" for name, score in sorted(scores.items()))
    why = (
        f"{spec.name} chosen by rolling-origin back-test (MAE: {tested})"
        if scores
        else f"{spec.name}: too little history to back-test"
    )
    if weights is not None:
        why += (
            f"; intervals from the binomial variance of a week of {size} documents "
            f"plus an extra-binomial sd of {tau2**0.5:.3f}"
        )
    if k80 > 1 or k95 > 1:
        why += f"; intervals widened x{k80:.2f} (80 %) and x{max(k95, k80):.2f} (95 %) to the back-test's coverage"
    ets_left_out = (
        not allow_ets
        and len(y) >= ETS_MIN_HISTORY
        and (not counts or float(np.mean(y)) >= ETS_MIN_MEAN)
    )
    if ets_left_out:
        why += "; ETS not tried (per-run ETS cap reached)"
    return Outcome("ok", spec.name, forecast, scores, flag, f"{why}; {flag_reason}")

"""The candidate forecast models, each giving a mean and 80 % / 95 % prediction intervals.

All models take the observed weekly values (oldest first) and a horizon and return a
:class:`Forecast`. Counts (publications, grants) and shares (foreign share) differ only in the
bounds the intervals are clipped to and in which models apply (the negative-binomial GLM is a
count model). Every model is deterministic: simulations use a fixed seed.

- ``mean``: the mean of the history; counts get negative-binomial (or Poisson) quantiles with
  the history's mean and variance, shares a normal interval; both widened by (1 + 1/n) for the
  uncertainty of the mean.
- ``seasonal_naive``: the value one season (52 weeks) before; with less than two seasons of
  history the season is one week (the naive "last value" forecast). Intervals from the
  in-sample seasonal differences, widening with the number of seasons ahead.
- ``ets``: statsmodels ``ETSModel`` with additive errors and a damped additive trend
  (ETS(A,Ad,N)), intervals from its analytic prediction variance.
- ``nb_glm``: a log-linear count model with a linear trend fitted on the last 52 weeks
  (statsmodels ``GLM``, one IRLS fit with the Pearson-scaled covariance, i.e. quasi-Poisson
  coefficients) and negative-binomial counts with the dispersion from the Pearson residuals;
  intervals by simulating the coefficients from their covariance and then the counts.
- ETS is the one model with a numerical optimisation: :func:`estimate_ets` estimates the
  parameters, :func:`forecast_ets` filters a series with given parameters and forecasts, so a
  back-test can estimate once and re-filter at later origins.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import stats

Z80 = float(stats.norm.ppf(0.90))
Z95 = float(stats.norm.ppf(0.975))
SEASON = 52
#: the GLM's trend is fitted on at most this many recent weeks (a local, not a lifetime, trend)
GLM_WINDOW = 52
_SIMULATIONS = 200


@dataclass(frozen=True)
class Forecast:
    mean: np.ndarray
    lo80: np.ndarray
    hi80: np.ndarray
    lo95: np.ndarray
    hi95: np.ndarray

    def clipped(self, upper: float | None) -> Forecast:
        """Counts cannot go below 0, shares not above 1."""

        def clip(a: np.ndarray) -> np.ndarray:
            return np.clip(a, 0.0, upper if upper is not None else np.inf)

        return Forecast(*(clip(a) for a in (self.mean, self.lo80, self.hi80, self.lo95, self.hi95)))


@dataclass(frozen=True)
class ModelSpec:
    name: str
    #: fewest observed weeks the model is fitted on (in back-tests too)
    min_history: int
    counts_only: bool
    #: whether the model costs a numerical fit (capped per run, see ``select``)
    expensive: bool
    fit: Callable[[np.ndarray, int, bool], Forecast]
    #: for expensive models: estimate parameters once, then forecast with them (back-tests)
    estimate: Callable[[np.ndarray], Any] | None = None
    forecast_with: Callable[[np.ndarray, int, bool, Any], Forecast] | None = None


def normal_intervals(mean: np.ndarray, sd: np.ndarray) -> Forecast:
    return Forecast(mean, mean - Z80 * sd, mean + Z80 * sd, mean - Z95 * sd, mean + Z95 * sd)


def _count_quantiles(mu: float, var: float, h: int) -> Forecast:
    """Negative-binomial quantiles with mean ``mu`` and variance ``var`` (Poisson if var <= mu)."""
    mean = np.full(h, mu)
    if mu <= 0:
        zero = np.zeros(h)
        return Forecast(mean, zero, zero, zero, zero)
    if var > mu * 1.0001:
        p = mu / var
        n = mu * p / (1 - p)
        q = stats.nbinom.ppf([0.025, 0.10, 0.90, 0.975], n, p)
    else:
        q = stats.poisson.ppf([0.025, 0.10, 0.90, 0.975], mu)
    lo95, lo80, hi80, hi95 = (np.full(h, float(v)) for v in q)
    return Forecast(mean, lo80, hi80, lo95, hi95)


def fit_mean(y: np.ndarray, h: int, counts: bool) -> Forecast:
    n = len(y)
    mu = float(np.mean(y))
    var = float(np.var(y, ddof=1)) if n > 1 else mu
    if counts:
        return _count_quantiles(mu, max(var, mu) * (1 + 1 / n), h)
    sd = math.sqrt(var * (1 + 1 / n))
    return normal_intervals(np.full(h, mu), np.full(h, sd))


def season_of(n: int) -> int:
    """52 weeks with at least two seasons of history, else 1 (the naive forecast)."""
    return SEASON if n >= 2 * SEASON else 1


def fit_seasonal_naive(y: np.ndarray, h: int, counts: bool) -> Forecast:
    n = len(y)
    m = season_of(n)
    steps = np.arange(h)
    mean = y[n - m + (steps % m)].astype(float)
    diffs = y[m:] - y[:-m]
    sd = float(np.sqrt(np.mean(diffs**2))) if len(diffs) else 0.0
    if counts:
        sd = max(sd, math.sqrt(max(float(np.mean(y)), 1e-9)))  # at least Poisson noise
    widen = np.sqrt(steps // m + 1)
    return normal_intervals(mean, sd * widen)


def _ets_model(y: np.ndarray) -> Any:
    import pandas as pd
    from statsmodels.tsa.exponential_smoothing.ets import ETSModel

    return ETSModel(
        pd.Series(np.asarray(y, dtype=float)), error="add", trend="add", damped_trend=True
    )


def estimate_ets(y: np.ndarray) -> Any:
    """ETS(A,Ad,N) parameters by maximum likelihood (the one costly step), None if degenerate."""
    if float(np.std(y)) == 0.0:
        return None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return np.asarray(_ets_model(y).fit(disp=False, maxiter=200).params)


def forecast_ets(y: np.ndarray, h: int, counts: bool, params: Any) -> Forecast:
    """Filter ``y`` with given parameters and forecast (cheap: no optimisation)."""
    if params is None:
        return fit_mean(y, h, counts)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = _ets_model(y).smooth(params)
        n = len(y)
        pred = result.get_prediction(start=n, end=n + h - 1)
        f80 = pred.summary_frame(alpha=0.20)
        f95 = pred.summary_frame(alpha=0.05)
    mean = f80["mean"].to_numpy(dtype=float)
    if not np.all(np.isfinite(mean)):
        return fit_mean(y, h, counts)
    return Forecast(
        mean,
        f80["pi_lower"].to_numpy(dtype=float),
        f80["pi_upper"].to_numpy(dtype=float),
        f95["pi_lower"].to_numpy(dtype=float),
        f95["pi_upper"].to_numpy(dtype=float),
    )


def fit_ets(y: np.ndarray, h: int, counts: bool) -> Forecast:
    return forecast_ets(y, h, counts, estimate_ets(y))


def fit_nb_glm(y: np.ndarray, h: int, counts: bool) -> Forecast:
    import statsmodels.api as sm

    window = np.asarray(y[-GLM_WINDOW:], dtype=float)
    n = len(window)
    if window.sum() == 0:
        return fit_mean(y, h, counts)
    t = (np.arange(n, dtype=float) - n) / SEASON  # weeks before the origin, in years
    x = sm.add_constant(t, has_constant="add")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        # one IRLS fit: the log-linear mean, with the dispersion from its Pearson residuals
        result = sm.GLM(window, x, family=sm.families.Poisson()).fit(scale="X2")
    mu = np.asarray(result.mu, dtype=float)
    alpha = max(float(np.sum(((window - mu) ** 2 - mu) / mu**2) / max(n - 2, 1)), 1e-6)
    beta = np.asarray(result.params, dtype=float)
    cov = np.asarray(result.cov_params(), dtype=float)
    tf = np.arange(1, h + 1, dtype=float) / SEASON
    xf = np.column_stack([np.ones(h), tf])
    mean = np.exp(xf @ beta)
    if not np.all(np.isfinite(mean)) or not np.all(np.isfinite(cov)):
        return fit_mean(y, h, counts)
    rng = np.random.default_rng(20090101)
    betas = rng.multivariate_normal(beta, cov, size=_SIMULATIONS, method="cholesky")
    mus = np.exp(np.clip(betas @ xf.T, -50, 20))
    size = 1.0 / alpha
    draws = rng.negative_binomial(size, size / (size + mus))
    q = np.quantile(draws, [0.025, 0.10, 0.90, 0.975], axis=0)
    return Forecast(mean, q[1], q[2], q[0], q[3])


MODELS: tuple[ModelSpec, ...] = (
    ModelSpec("mean", 8, counts_only=False, expensive=False, fit=fit_mean),
    ModelSpec("seasonal_naive", 8, counts_only=False, expensive=False, fit=fit_seasonal_naive),
    ModelSpec("nb_glm", 20, counts_only=True, expensive=False, fit=fit_nb_glm),
    ModelSpec(
        "ets",
        20,
        counts_only=False,
        expensive=True,
        fit=fit_ets,
        estimate=estimate_ets,
        forecast_with=forecast_ets,
    ),
)
MODEL_NAMES = tuple(m.name for m in MODELS)


def model(name: str) -> ModelSpec:
    for spec in MODELS:
        if spec.name == name:
            return spec
    raise KeyError(name)

"""Lapse probability of rights in force: a discrete-time survival model of non-payment terminations.

Why discrete time: a right lapses for non-payment at a fee anniversary (the unpaid year's due
date), so the natural unit is one row per right and fee anniversary it reached in force — a
discrete-time hazard model (logistic regression on person-years, statsmodels ``GLM`` binomial).
Row ``k`` is the year ``[filing + k years, filing + k + 1 years)`` of a granted right; its outcome
is a termination for non-payment (:data:`~warning.forecast.legal.NON_PAYMENT_CODES`) dated in it.
Rows start with the first anniversary after the grant was published (the grant year's fee
is paid with the registration), stop at the lapse, at any other end
(expiry, other termination, full invalidation: censored) and at the last year fully observed
before the cut-off (so a year still running never counts as survived).

Covariates: age (``k`` and ``log k``), kind (invention / utility model / design), the first
applicant's type (:func:`warning.indicators.applicant_types.applicant_type`) and ``log(1 +
claims)`` when the claims count is known for at least half of the rows (else left out, and the
summary says so). A covariate without variation in the store is dropped.

The probability of lapsing in the next 12 months is the hazard of the fee anniversary that falls
in them (null when the term ends first). The model is shown only when fitted on at least
:data:`~warning.forecast.legal.MIN_LAPSE_EVENTS` events, with a back-test on a held-out time
split: the same model fitted as of 12 months earlier predicts each right then in force, and the
predicted and observed lapse rates are compared per risk decile.
"""

from __future__ import annotations

import datetime as dt
import math
import re
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from warning.digest.inputs import _chunks
from warning.forecast.data import StoreDoc
from warning.forecast.legal import (
    MIN_LAPSE_EVENTS,
    NON_PAYMENT_CODES,
    add_months,
    add_years,
    ended_on,
    expiry_date,
    rights_in_force,
)
from warning.indicators.applicant_types import document_type
from warning.store.models import Document

#: months ahead a probability is given for (and of the back-test's held-out split)
HORIZON_MONTHS = 12
#: share of rows whose claims count must be known for the covariate to be used
CLAIMS_MIN_SHARE = 0.5
_TYPES = ("university", "institute", "individual", "other")  # "enterprise" is the reference
_KINDS = ("U", "S")  # "B" (invention) is the reference
_CLAIM_START = re.compile(r"(?:^|[\n\r])\s*(\d{1,3})\s*[.．、]")


def claims_count(text: str) -> int | None:
    """The number of the last claim in a claims text (``1. …\\n2. …``), None when unknown."""
    numbers = [int(n) for n in _CLAIM_START.findall(text or "")]
    return max(numbers) if numbers else None


def _non_payment(doc: StoreDoc, cutoff: dt.date) -> dt.date | None:
    for event in doc.events:
        if event.event_date <= cutoff and event.code.upper() in NON_PAYMENT_CODES:
            return event.event_date
    return None


def load_claims(session: Session, docs: list[StoreDoc]) -> dict[int, int]:
    """Document id -> claims count, for the granted documents whose claims text is stored."""
    ids = [d.id for d in docs if d.is_grant]
    found: dict[int, int] = {}
    for chunk in _chunks(ids):
        rows = session.execute(
            select(Document.id, Document.claims)
            .where(Document.id.in_(chunk))
            .where(Document.claims != "")
        )
        for r in rows:
            n = claims_count(r.claims)
            if n is not None:
                found[r.id] = n
    return found


def count_events(docs: list[StoreDoc], as_of: dt.date) -> int:
    """Terminations for non-payment dated up to ``as_of`` (one per document)."""
    return sum(1 for d in docs if _non_payment(d, as_of) is not None)


@dataclass(frozen=True)
class _Row:
    age: int
    kind: str
    applicant: str
    claims: int | None
    event: bool


def _features(doc: StoreDoc, claims: Mapping[int, int]) -> tuple[str, str, int | None]:
    return (
        doc.kind_class or "B",
        document_type(a.name for a in doc.applicants),
        claims.get(doc.id),
    )


def person_years(docs: list[StoreDoc], cutoff: dt.date, claims: Mapping[int, int]) -> list[_Row]:
    """One row per granted right and protection year fully observed up to ``cutoff``."""
    rows: list[_Row] = []
    seen: set[str] = set()
    for doc in docs:
        filed = doc.application_date
        if not doc.is_grant or filed is None or doc.publication_date > cutoff:
            continue
        key = doc.application_number or doc.number
        if key in seen:
            continue
        seen.add(key)
        expiry = expiry_date(doc.kind_class or "", filed)
        if expiry is None:
            continue
        lapse = _non_payment(doc, cutoff)
        ended = ended_on(doc, cutoff)
        other_end = ended if ended is not None and ended != lapse else None
        kind, applicant, n_claims = _features(doc, claims)
        k = 1
        while True:
            start, end = add_years(filed, k), add_years(filed, k + 1)
            if start > expiry or end > cutoff:
                break
            if start <= doc.publication_date:  # the first fee falls due at the grant
                k += 1
                continue
            if lapse is not None and lapse < start:
                break
            if other_end is not None and other_end < end and (lapse is None or other_end < lapse):
                break
            event = lapse is not None and lapse < end
            rows.append(_Row(k, kind, applicant, n_claims, event))
            if event:
                break
            k += 1
    return rows


@dataclass(frozen=True)
class LapseModel:
    columns: tuple[str, ...]
    params: np.ndarray
    claims_fill: float | None
    events: int
    rows: int

    def design(self, age: int, kind: str, applicant: str, claims: int | None) -> list[float]:
        values: dict[str, float] = {
            "const": 1.0,
            "age": float(age),
            "log_age": math.log(age),
            **{f"kind_{k}": float(kind == k) for k in _KINDS},
            **{f"applicant_{t}": float(applicant == t) for t in _TYPES},
        }
        if self.claims_fill is not None:
            known = claims is not None
            values["log_claims"] = math.log1p(claims) if claims is not None else self.claims_fill
            values["claims_unknown"] = float(not known)
        return [values[c] for c in self.columns]

    def hazard(self, age: int, kind: str, applicant: str, claims: int | None) -> float:
        eta = float(np.dot(self.design(age, kind, applicant, claims), self.params))
        return 1.0 / (1.0 + math.exp(-eta))

    def coefficients(self) -> dict[str, float]:
        return {c: round(float(p), 4) for c, p in zip(self.columns, self.params, strict=True)}


class FitFailed(Exception):
    """The GLM could not be fitted (e.g. perfect separation); reported, never raised to a user."""


def fit(rows: list[_Row]) -> LapseModel:
    """Logistic discrete-time hazard on the person-years (statsmodels GLM, binomial)."""
    import statsmodels.api as sm

    known = [r.claims for r in rows if r.claims is not None]
    use_claims = bool(rows) and len(known) >= CLAIMS_MIN_SHARE * len(rows)
    fill = float(np.mean([math.log1p(c) for c in known])) if use_claims else None
    columns = ["const", "age", "log_age", *(f"kind_{k}" for k in _KINDS)]
    columns += [f"applicant_{t}" for t in _TYPES]
    if use_claims:
        columns += ["log_claims", "claims_unknown"]
    probe = LapseModel(tuple(columns), np.zeros(len(columns)), fill, 0, 0)
    x = np.array([probe.design(r.age, r.kind, r.applicant, r.claims) for r in rows], dtype=float)
    y = np.array([float(r.event) for r in rows])
    if len(rows) == 0 or y.sum() == 0 or y.sum() == len(y):
        raise FitFailed("no events" if len(rows) and y.sum() == 0 else "no person-years")
    keep = [0] + [j for j in range(1, x.shape[1]) if np.ptp(x[:, j]) > 0]
    if "log_age" in [columns[j] for j in keep] and np.unique(x[:, 1]).size < 3:
        keep = [j for j in keep if columns[j] != "log_age"]  # two ages: log k is collinear
    x = x[:, keep]
    kept = tuple(columns[j] for j in keep)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            result = sm.GLM(y, x, family=sm.families.Binomial()).fit()
        except Exception as exc:  # statsmodels raises several types on degenerate data
            raise FitFailed(str(exc)) from exc
    params = np.asarray(result.params, dtype=float)
    if not np.all(np.isfinite(params)):
        raise FitFailed("non-finite coefficients")
    return LapseModel(kept, params, fill, int(y.sum()), len(rows))


def next_anniversary(doc: StoreDoc, as_of: dt.date) -> int | None:
    """``k`` of the fee anniversary in ``(as_of, as_of + 12 months]`` before the term ends."""
    filed = doc.application_date
    if filed is None:
        return None
    expiry = expiry_date(doc.kind_class or "", filed)
    until = add_months(as_of, HORIZON_MONTHS)
    k = max(1, as_of.year - filed.year - 1)
    while add_years(filed, k) <= as_of:
        k += 1
    day = add_years(filed, k)
    if day > until or expiry is None or day > expiry:
        return None
    return k


def _predict(
    model: LapseModel, doc: StoreDoc, as_of: dt.date, claims: Mapping[int, int]
) -> float | None:
    k = next_anniversary(doc, as_of)
    if k is None:
        return None
    kind, applicant, n_claims = _features(doc, claims)
    return model.hazard(k, kind, applicant, n_claims)


def backtest(docs: list[StoreDoc], as_of: dt.date, claims: Mapping[int, int]) -> dict[str, Any]:
    """Fit as of 12 months earlier; predicted vs observed lapse rate per risk decile since."""
    split = add_months(as_of, -HORIZON_MONTHS)
    base: dict[str, Any] = {"split": split.isoformat(), "until": as_of.isoformat()}
    try:
        model = fit(person_years(docs, split, claims))
    except FitFailed as exc:
        return {**base, "available": False, "reason": f"back-test fit failed: {exc}"}
    pairs: list[tuple[float, bool]] = []
    for doc, _expiry in rights_in_force(docs, split):
        p = _predict(model, doc, split, claims)
        if p is None:
            continue
        lapse = _non_payment(doc, as_of)
        pairs.append((p, lapse is not None and split < lapse <= as_of))
    if len(pairs) < 10:
        return {
            **base,
            "available": False,
            "reason": f"back-test: only {len(pairs)} rights with a fee due after the split",
        }
    pairs.sort(key=lambda pair: pair[0])
    pred = np.array([a for a, _ in pairs])
    o = np.array([float(b) for _, b in pairs])
    deciles = []
    for i, idx in enumerate(np.array_split(np.arange(len(pairs)), 10), start=1):
        deciles.append(
            {
                "decile": i,
                "rights": len(idx),
                "predicted": round(float(pred[idx].mean()), 4),
                "observed": round(float(o[idx].mean()), 4),
            }
        )
    gap = sum(d["rights"] * abs(d["predicted"] - d["observed"]) for d in deciles) / len(pairs)
    return {
        **base,
        "available": True,
        "fit_events": model.events,
        "rights": len(pairs),
        "lapses": int(o.sum()),
        "predicted_rate": round(float(pred.mean()), 4),
        "observed_rate": round(float(o.mean()), 4),
        "brier": round(float(np.mean((pred - o) ** 2)), 4),
        "calibration_error": round(float(gap), 4),
        "deciles": deciles,
    }


def lapse_estimates(
    docs: list[StoreDoc], as_of: dt.date, claims: Mapping[int, int] | None = None
) -> tuple[dict[str, Any], dict[str, float | None]]:
    """(the model's status for the listing, number -> 12-month lapse probability of rights in force).

    The probabilities are empty unless the model was fitted on at least ``MIN_LAPSE_EVENTS``.
    """
    claims = claims or {}
    stored = count_events(docs, as_of)
    base: dict[str, Any] = {"min_events": MIN_LAPSE_EVENTS, "horizon_months": HORIZON_MONTHS}
    rows = person_years(docs, as_of, claims)
    fitted = sum(r.event for r in rows)
    if fitted < MIN_LAPSE_EVENTS:
        return {
            **base,
            "available": False,
            "events": stored,
            "fit_events": fitted,
            "reason": (
                f"lapse probability not available: the store holds {stored} terminations for "
                f"non-payment up to {as_of.isoformat()} ({fitted} in fully observed years of "
                f"granted rights), at least {MIN_LAPSE_EVENTS} are needed to fit and back-test "
                "a survival model"
            ),
        }, {}
    try:
        model = fit(rows)
    except FitFailed as exc:
        return {
            **base,
            "available": False,
            "events": stored,
            "fit_events": fitted,
            "reason": f"lapse probability not available: the survival model failed to fit ({exc})",
        }, {}
    probabilities: dict[str, float | None] = {}
    for doc, _expiry in rights_in_force(docs, as_of):
        p = _predict(model, doc, as_of, claims)
        probabilities[doc.number] = None if p is None else round(p, 4)
    calibration = backtest(docs, as_of, claims)
    cal_text = (
        f"back-test (fitted as of {calibration['split']}): predicted "
        f"{calibration['predicted_rate']:.1%} vs observed {calibration['observed_rate']:.1%} "
        f"over {calibration['rights']} rights, mean decile gap {calibration['calibration_error']:.1%}"
        if calibration["available"]
        else calibration["reason"]
    )
    used = ", ".join(c for c in model.columns if c != "const")
    claims_note = "" if model.claims_fill is not None else "; claims count not known, left out"
    return {
        **base,
        "available": True,
        "events": stored,
        "fit_events": model.events,
        "person_years": model.rows,
        "model": "discrete-time logistic hazard (statsmodels GLM binomial)",
        "covariates": list(model.columns),
        "coefficients": model.coefficients(),
        "calibration": calibration,
        "reason": (
            f"lapse probability (next {HORIZON_MONTHS} months, non-payment): discrete-time "
            f"hazard fitted on {model.events} terminations in {model.rows} person-years "
            f"({used}{claims_note}); {cal_text}"
        ),
    }, probabilities

"""The strategy's indicators for a region and a period, a pure function of document rows.

Counting (documented in docs/forecasts.md, "Indicators"):

- A document counts for the region when **any** applicant's address lies in it (the region is
  the applicant's city or province, or appears in the address), once, in the period of its
  **publication date**.
- ``documents``: by class — A (invention applications published), B (invention grants; C too),
  U (utility models; Y too), S (designs). ``applications`` = A + U + S (utility models and
  designs are published only once, at grant), ``grants`` = B + U + S.
- ``applicant_types``: each application (A, U, S) once, by the type of its first applicant in
  the region (:mod:`warning.indicators.applicant_types`). ``enterprise_share`` = enterprise
  applications / applications; ``service_invention_share`` = applications of organisations
  (everything but individuals) / applications; ``invention_share`` = A / applications.
- Growth rates compare with the previous period of the same length (the previous year for
  ``--year``); None when the previous period has no documents.
- ``foreign_filings``: documents of non-CN offices with an applicant in the region. PCT filings
  are not recorded in the store's bibliographic data, so ``pct`` is None.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from typing import Any

from warning.digest.inputs import ApplicantRow
from warning.forecast.data import StoreDoc
from warning.indicators.applicant_types import TYPES, applicant_type
from warning.indicators.targets import TargetsFile
from warning.taxonomy import load_taxonomy

CLASSES: tuple[str, ...] = ("A", "B", "U", "S")
TOP_APPLICANTS = 10


def in_region(applicant: ApplicantRow, region: str) -> bool:
    return region in (applicant.city, applicant.province) or region in (applicant.address or "")


def _ratio(num: float, den: float) -> float | None:
    return round(num / den, 4) if den else None


def _growth(now: int, before: int) -> float | None:
    return round((now - before) / before, 4) if before else None


def _counts(docs: list[StoreDoc]) -> dict[str, int]:
    counts = Counter(d.kind_class for d in docs)
    return {c: counts.get(c, 0) for c in CLASSES}


def _applications(counts: dict[str, int]) -> int:
    return counts["A"] + counts["U"] + counts["S"]


def _grants(counts: dict[str, int]) -> int:
    return counts["B"] + counts["U"] + counts["S"]


def regional(docs: list[StoreDoc], region: str, since: dt.date, until: dt.date) -> list[StoreDoc]:
    return [
        d
        for d in docs
        if since <= d.publication_date <= until
        and d.kind_class is not None
        and any(in_region(a, region) for a in d.applicants)
    ]


def previous_period(since: dt.date, until: dt.date) -> tuple[dt.date, dt.date]:
    """The previous calendar year for a calendar year, else the same number of days before."""
    if (since.month, since.day) == (1, 1) and until == dt.date(since.year, 12, 31):
        return dt.date(since.year - 1, 1, 1), dt.date(since.year - 1, 12, 31)
    prev_until = since - dt.timedelta(days=1)
    return prev_until - (until - since), prev_until


def compute_indicators(
    docs: list[StoreDoc],
    region: str,
    since: dt.date,
    until: dt.date,
    targets: TargetsFile,
) -> dict[str, Any]:
    """The indicator JSON for ``region`` over ``[since, until]`` (see the module docstring)."""
    prev_since, prev_until = previous_period(since, until)
    current = regional(docs, region, since, until)
    previous = regional(docs, region, prev_since, prev_until)
    counts, before = _counts(current), _counts(previous)
    applications = [d for d in current if d.kind_class in ("A", "U", "S")]
    types = Counter(_local_type(d, region) for d in applications)
    type_counts = {t: types.get(t, 0) for t in TYPES}
    n_app = len(applications)
    measures: dict[str, float | None] = {
        "applications_growth": _growth(_applications(counts), _applications(before)),
        "grants_growth": _growth(_grants(counts), _grants(before)),
        "invention_applications_growth": _growth(counts["A"], before["A"]),
        "invention_grants_growth": _growth(counts["B"], before["B"]),
        "enterprise_share": _ratio(type_counts["enterprise"], n_app),
        "invention_share": _ratio(counts["A"], n_app),
        "service_invention_share": _ratio(n_app - type_counts["individual"], n_app),
    }
    months: dict[str, Counter[str]] = {}
    for d in current:
        months.setdefault(d.publication_date.strftime("%Y-%m"), Counter())[d.kind_class or ""] += 1
    taxonomy = load_taxonomy()
    return {
        "region": region,
        "since": since.isoformat(),
        "until": until.isoformat(),
        "previous": {"since": prev_since.isoformat(), "until": prev_until.isoformat()},
        "documents": counts,
        "documents_previous": before,
        "applications": _applications(counts),
        "grants": _grants(counts),
        "applicant_types": type_counts,
        "enterprise_share": measures["enterprise_share"],
        "invention_share": measures["invention_share"],
        "service_invention_share": measures["service_invention_share"],
        "growth": {k: v for k, v in measures.items() if k.endswith("_growth")},
        "by_month": {m: {c: months[m].get(c, 0) for c in CLASSES} for m in sorted(months)},
        "foreign_filings": {
            "documents": sum(d.office != "CN" for d in current),
            "by_office": dict(
                sorted(Counter(d.office for d in current if d.office != "CN").items())
            ),
            "pct": None,
            "pct_note": "PCT filings are not in the stored bibliographic data",
        },
        "top_applicants": _top_applicants(current, region),
        "sectors": {
            s.id: {
                "name_zh": s.name_zh,
                "documents": _counts([d for d in current if s.id in d.sectors]),
            }
            for s in taxonomy.sectors
        },
        "targets": [
            {
                "id": t.id,
                "label": t.label,
                "measure": t.measure,
                "min": t.min,
                "max": t.max,
                "by": t.by,
                "value": measures[t.measure],
                "met": t.met(measures[t.measure]),
            }
            for t in targets.targets
        ],
    }


def _local_type(doc: StoreDoc, region: str) -> str:
    for applicant in doc.applicants:
        if in_region(applicant, region):
            return applicant_type(applicant.name)
    return "other"


def _top_applicants(docs: list[StoreDoc], region: str) -> list[dict[str, Any]]:
    counts: Counter[str] = Counter()
    names: dict[str, str] = {}
    for doc in docs:
        for a in doc.applicants:
            if in_region(a, region):
                names.setdefault(a.key, a.name)
        for key in {a.key for a in doc.applicants if in_region(a, region)}:
            counts[key] += 1
    ranked = sorted(counts.items(), key=lambda kv: (-kv[1], names[kv[0]]))[:TOP_APPLICANTS]
    return [{"name": names[k], "type": applicant_type(names[k]), "documents": n} for k, n in ranked]

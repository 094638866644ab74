"""The dispute-prone field index: per sector, sub-field and IPC main group, with its components.

Window: the 52 weeks up to the as-of week. A field needs at least :data:`MIN_DOCUMENTS`
documents published in the window to be ranked. Components (each shown with its raw value):

=================  ==========================================================================
invalidations      invalidation events (IW01, IP01, ...) dated in the window on the field's
                   documents, per 100 documents published in the window
transactions       transfers, licences and pledges dated in the window, per 100 documents
foreign_share      share of the window's documents whose first applicant is foreign
foreign_trend      foreign share of the last 13 weeks minus that of the 39 before (points)
concentration      HHI of the holders (each document once per distinct applicant), 0..1
local_holdings     share of the window's documents with an applicant in ``local_regions``
emerging           1 when the field's publications or foreign share is flagged emerging
=================  ==========================================================================

Each continuous component is scored by its percentile rank among the ranked fields (0 for a
zero value, 1 for the largest); ``emerging`` scores 0 or 1. The index is the weighted sum of the
scores (:data:`WEIGHTS`, summing to 1), so a field ranks high when several signals agree:
contested rights, rights changing hands, strong and rising foreign presence, few holders, and
local enterprises active in the same field.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any

from scipy.stats import rankdata

from warning.digest.weeks import IsoWeek
from warning.forecast.data import StoreDoc
from warning.forecast.series import fields_of

WINDOW_WEEKS = 52
RECENT_WEEKS = 13
MIN_DOCUMENTS = 20
WEIGHTS: dict[str, float] = {
    "invalidations": 0.25,
    "transactions": 0.15,
    "foreign_share": 0.15,
    "foreign_trend": 0.15,
    "concentration": 0.10,
    "local_holdings": 0.10,
    "emerging": 0.10,
}
LABEL_ZH = {
    "invalidations": "无效宣告（每百件）",
    "transactions": "转让/许可/质押（每百件）",
    "foreign_share": "国外申请人占比",
    "foreign_trend": "国外占比变化（百分点）",
    "concentration": "权利人集中度 HHI",
    "local_holdings": "本地企业持有占比",
    "emerging": "新兴趋势标记",
}
_TRANSACTIONS = frozenset({"transfer", "licence", "pledge"})
FieldKey = tuple[str, str | None, str | None]


@dataclass
class _Field:
    documents: int = 0
    invalidations: int = 0
    transactions: int = 0
    known: int = 0
    foreign: int = 0
    recent_known: int = 0
    recent_foreign: int = 0
    local: int = 0
    holders: Counter[str] = field(default_factory=Counter)


def _share(num: int, den: int) -> float:
    return num / den if den else 0.0


def dispute_index(
    docs: list[StoreDoc],
    as_of: IsoWeek,
    local_regions: tuple[str, ...],
    emerging: set[FieldKey] | None = None,
) -> dict[str, Any]:
    """The ranked fields with every component; ``emerging`` names fields flagged emerging."""
    until = as_of.sunday
    since = as_of.shift(-(WINDOW_WEEKS - 1)).monday
    recent_since = as_of.shift(-(RECENT_WEEKS - 1)).monday
    fields: dict[FieldKey, _Field] = defaultdict(_Field)
    for doc in docs:
        keys = fields_of(doc)
        if not keys:
            continue
        published = since <= doc.publication_date <= until
        events = [e for e in doc.events if since <= e.event_date <= until]
        invalidations = sum(e.category == "invalidation" for e in events)
        transactions = sum(e.category in _TRANSACTIONS for e in events)
        foreign = doc.is_foreign
        local = any(
            any(r in (a.city, a.province) or r in (a.address or "") for r in local_regions)
            for a in doc.applicants
        )
        for key in keys:
            f = fields[key]
            f.invalidations += invalidations
            f.transactions += transactions
            if not published:
                continue
            f.documents += 1
            f.local += local
            for holder in {a.key for a in doc.applicants}:
                f.holders[holder] += 1
            if foreign is not None:
                f.known += 1
                f.foreign += foreign
                if doc.publication_date >= recent_since:
                    f.recent_known += 1
                    f.recent_foreign += foreign
    ranked = {k: f for k, f in fields.items() if f.documents >= MIN_DOCUMENTS}
    keys = sorted(ranked, key=lambda k: (k[0], k[1] or "", k[2] or ""))
    raw: dict[str, list[float]] = {name: [] for name in WEIGHTS}
    for key in keys:
        f = ranked[key]
        links = sum(f.holders.values())
        earlier_known = f.known - f.recent_known
        raw["invalidations"].append(100 * f.invalidations / f.documents)
        raw["transactions"].append(100 * f.transactions / f.documents)
        raw["foreign_share"].append(_share(f.foreign, f.known))
        raw["foreign_trend"].append(
            100
            * (
                _share(f.recent_foreign, f.recent_known)
                - _share(f.foreign - f.recent_foreign, earlier_known)
            )
            if f.recent_known and earlier_known
            else 0.0
        )
        raw["concentration"].append(
            sum((n / links) ** 2 for n in f.holders.values()) if links else 0.0
        )
        raw["local_holdings"].append(_share(f.local, f.documents))
        raw["emerging"].append(1.0 if emerging and key in emerging else 0.0)
    scores = {
        name: _percentile_scores(values, binary=name == "emerging") for name, values in raw.items()
    }
    out = []
    for i, key in enumerate(keys):
        components = {
            name: {
                "value": round(raw[name][i], 4),
                "score": round(scores[name][i], 4),
                "weight": WEIGHTS[name],
                "label_zh": LABEL_ZH[name],
            }
            for name in WEIGHTS
        }
        index = sum(WEIGHTS[name] * scores[name][i] for name in WEIGHTS)
        out.append(
            {
                "sector": key[0],
                "subfield": key[1],
                "ipc": key[2],
                "documents": ranked[key].documents,
                "index": round(index, 4),
                "components": components,
            }
        )
    out.sort(key=_rank_key)
    return {
        "as_of": str(as_of),
        "since": since.isoformat(),
        "until": until.isoformat(),
        "min_documents": MIN_DOCUMENTS,
        "weights": WEIGHTS,
        "fields": out,
    }


def _rank_key(row: dict[str, Any]) -> tuple[float, int, str, str, str]:
    return (
        -float(row["index"]),
        -int(row["documents"]),
        str(row["sector"]),
        str(row["subfield"] or ""),
        str(row["ipc"] or ""),
    )


def _percentile_scores(values: list[float], *, binary: bool) -> list[float]:
    if binary:
        return values
    positive = [v for v in values if v > 0]
    if not positive:
        return [0.0] * len(values)
    if len(positive) == 1:
        return [1.0 if v > 0 else 0.0 for v in values]
    ranks = rankdata(positive, method="max")
    by_value = {v: (r - 1) / (len(positive) - 1) for v, r in zip(positive, ranks, strict=True)}
    # the smallest positive value still scores above a zero
    floor = 1 / len(positive)
    return [0.0 if v <= 0 else max(floor, float(by_value[v])) for v in values]


def emerging_fields(forecasts: dict[str, Any]) -> set[FieldKey]:
    return {
        (s["sector"], s["subfield"], s["ipc"])
        for s in forecasts.get("series", [])
        if s["flag"] == "emerging" and s["measure"] in ("publications", "foreign_share")
    }

"""The digest's numbers: per-sector indicators and warning levels, a pure function of the inputs.

Definitions (all per sector, for the digest week unless said otherwise):

- ``publications``: documents published in the week (any kind); ``grants``: those of a granted
  kind (B/C, U/Y, S). ``wow`` is the relative change against the week before; ``vs_mean`` the
  ratio to the mean of the 12 weeks before. Weeks in which the store holds no document at all
  count as missing data (not as zero) in the mean and in the charts.
- ``foreign_share``: documents whose first applicant is outside mainland China, over documents
  whose first applicant's country is known; ``trailing_share`` is the same pooled over the 12
  weeks before, ``change_points`` the difference in percentage points.
- ``top_applicants``, ``cr4``, ``hhi``: each document counts once for each distinct applicant;
  CR4 is the share of those links held by the four largest, HHI the sum of squared shares x 10 000.
- ``local``: documents with at least one applicant in ``local_regions`` (city, province,
  address or name).
- ``legal``: events dated in the week on documents of the sector, by digest category; lapsed and
  expired rights (and full invalidations) are listed as free-to-use opportunities; transfers
  are "out" when a local holder passes the right to a non-local one, "in" the other way round.
- ``alerts``: alerts about the week, except test and suppressed ones, by severity: an alert
  belongs to the week of its document's publication (or its legal event's date, ``as_of``), so a
  back-filled week shows its alerts; one without such a date to the week it was created in.
- ``baseline``: how much history the trailing comparisons stand on (weeks with data, the
  sector's documents in them); below the thresholds' ``baseline`` minimums the comparisons are
  shown as 基线不足，不评级 and set no level.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from typing import Any

from warning.digest.inputs import AlertRow, DigestInputs, DocRow, EventRow
from warning.digest.legal import CATEGORIES, is_free_to_use
from warning.digest.thresholds import (
    LEVEL_ZH,
    NO_BASELINE_ZH,
    Thresholds,
    default_thresholds_path,
    grade_sector,
)
from warning.digest.weeks import IsoWeek
from warning.taxonomy import load_taxonomy

SEVERITIES: tuple[str, ...] = ("critical", "high", "medium", "low")
TOP_APPLICANTS = 5
NOTABLE_PER_SECTOR = 3
NOTABLE_TOTAL = 10
LIST_LIMIT = 20


def _ratio(numerator: float, denominator: float) -> float | None:
    return round(numerator / denominator, 4) if denominator else None


def _doc_ref(doc: DocRow) -> dict[str, Any]:
    return {
        "number": doc.number,
        "title": doc.title,
        "publication_date": doc.publication_date.isoformat() if doc.publication_date else None,
        "applicants": [a.name for a in doc.applicants],
    }


def _severity_rank(alert: AlertRow) -> tuple[int, int]:
    rank = SEVERITIES.index(alert.severity) if alert.severity in SEVERITIES else len(SEVERITIES)
    return rank, alert.id


def _alert_ref(alert: AlertRow) -> dict[str, Any]:
    doc = alert.document
    return {
        "alert_id": alert.id,
        "severity": alert.severity,
        "level_zh": LEVEL_ZH.get(alert.severity, ""),
        "rule_id": alert.rule_id,
        "rule_title": alert.title,
        "why": alert.why,
        "number": doc.number if doc else None,
        "title": doc.title if doc else "",
        "applicants": [a.name for a in doc.applicants] if doc else [],
    }


def _alert_sectors(alert: AlertRow) -> tuple[str, ...]:
    if alert.sector:
        return (alert.sector,)
    return alert.document.sectors if alert.document else ()


def compute_content(inputs: DigestInputs, thresholds: Thresholds) -> dict[str, Any]:
    """The digest content: JSON-ready, deterministic, stored as ``Digest.content``."""
    taxonomy = load_taxonomy()
    week = inputs.week
    by_week: dict[IsoWeek, list[DocRow]] = {w: [] for w in inputs.weeks}
    for doc in inputs.documents:
        if doc.publication_date is not None:
            by_week.setdefault(IsoWeek.of(doc.publication_date), []).append(doc)
    weeks_with_data = [w for w in inputs.weeks if by_week[w]]
    has_data = bool(by_week[week] or inputs.events or inputs.alerts)

    sectors = []
    for sector in taxonomy.sectors:
        sectors.append(
            _sector_content(sector.id, sector.name_zh, inputs, by_week, weeks_with_data, thresholds)
        )
    this_week = by_week[week]
    notable = sorted(inputs.alerts, key=_severity_rank)[:NOTABLE_TOTAL]
    unsectored_events = [e for e in inputs.events if not e.document.sectors]
    return {
        "week": str(week),
        "start": week.monday.isoformat(),
        "end": week.sunday.isoformat(),
        "has_data": has_data,
        "weeks": [str(w) for w in inputs.weeks[1:]],
        "weeks_with_data": [str(w) for w in inputs.weeks[1:] if by_week[w]],
        "local_regions": list(inputs.local_regions),
        "thresholds": {
            "source": "packaged"
            if thresholds.source == str(default_thresholds_path())
            else thresholds.source,
            "version": thresholds.version,
            "min_documents": thresholds.min_documents,
            "baseline": {
                "min_weeks": thresholds.baseline.min_weeks,
                "min_documents": thresholds.baseline.min_documents,
            },
        },
        "totals": {
            "publications": len(this_week),
            "grants": sum(d.is_grant for d in this_week),
            "unsectored_publications": sum(not d.sectors for d in this_week),
            "local_publications": sum(
                any(a.is_local(inputs.local_regions) for a in d.applicants) for d in this_week
            ),
            "legal_events": len(inputs.events),
            "unsectored_legal_events": len(unsectored_events),
            "alerts": len(inputs.alerts),
            "alerts_by_severity": _by_severity(inputs.alerts),
        },
        "levels": {s["id"]: s["level"] for s in sectors},
        "sectors": sectors,
        "notable": [_alert_ref(a) for a in notable],
    }


def _by_severity(alerts: Iterable[AlertRow]) -> dict[str, int]:
    counts = Counter(a.severity for a in alerts)
    return {s: counts.get(s, 0) for s in SEVERITIES}


def _sector_content(
    sector_id: str,
    name_zh: str,
    inputs: DigestInputs,
    by_week: dict[IsoWeek, list[DocRow]],
    weeks_with_data: list[IsoWeek],
    thresholds: Thresholds,
) -> dict[str, Any]:
    week = inputs.week
    prev_week = week.shift(-1)
    history = [w for w in weeks_with_data if w != week]

    def in_sector(docs: Iterable[DocRow]) -> list[DocRow]:
        return [d for d in docs if sector_id in d.sectors]

    docs = in_sector(by_week[week])
    history_docs = [d for w in history for d in in_sector(by_week[w])]
    counts = {w: len(in_sector(by_week[w])) for w in inputs.weeks}
    grants = {w: sum(d.is_grant for d in in_sector(by_week[w])) for w in inputs.weeks}

    publications = _trend(len(docs), counts, prev_week, history, by_week)
    grant_trend = _trend(grants[week], grants, prev_week, history, by_week)

    foreign = _foreign(docs, history_docs)
    top, cr4, hhi = _concentration(docs)
    local = _local(docs, inputs.local_regions)
    events = [e for e in inputs.events if sector_id in e.document.sectors]
    legal = _legal(events)
    alerts = [a for a in inputs.alerts if sector_id in _alert_sectors(a)]
    alert_counts = _by_severity(alerts)

    values: dict[str, float | None] = {
        "filings_vs_mean": publications["vs_mean"],
        "foreign_share": foreign["share"],
        "foreign_share_change": foreign["change_points"],
        "cr4": cr4,
        "critical_alerts": alert_counts["critical"],
        "high_alerts": alert_counts["high"],
        "invalidations": legal["counts"]["invalidation"],
        "transfers_out": len(legal["transfers_out"]),
    }
    baseline = _baseline(thresholds, len(history), len(history_docs), foreign["trailing_known"])
    has_data = bool(docs or events or alerts)
    grade = (
        grade_sector(thresholds, values, len(docs), baseline_ok=baseline["ok"])
        if has_data
        else None
    )
    return {
        "id": sector_id,
        "name_zh": name_zh,
        "has_data": has_data,
        "level": grade.level if grade else None,
        "level_zh": LEVEL_ZH[grade.level] if grade else None,
        "drivers": [
            {
                "indicator": d.indicator,
                "label": d.label,
                "unit": d.unit,
                "value": d.value,
                "threshold": d.threshold,
                "level": d.level,
                "level_zh": LEVEL_ZH[d.level],
            }
            for d in (grade.drivers if grade else [])
        ],
        "insufficient": grade.insufficient if grade else [],
        "no_baseline": grade.no_baseline if grade else [],
        "baseline": baseline,
        "values": values,
        "publications": publications,
        "grants": grant_trend,
        "series": [counts[w] if by_week[w] else None for w in inputs.weeks[1:]],
        "foreign": foreign,
        "foreign_series": [
            _ratio(
                sum((d.first_country or "CN") != "CN" for d in in_sector(by_week[w])),
                sum(d.first_country is not None for d in in_sector(by_week[w])),
            )
            for w in inputs.weeks[1:]
        ],
        "top_applicants": top,
        "cr4": cr4,
        "hhi": hhi,
        "local": local,
        "legal": legal,
        "alerts": {"total": len(alerts), "by_severity": alert_counts},
        "notable": [_alert_ref(a) for a in sorted(alerts, key=_severity_rank)][:NOTABLE_PER_SECTOR],
    }


def _trend(
    this: int,
    counts: dict[IsoWeek, int],
    prev_week: IsoWeek,
    history: list[IsoWeek],
    by_week: dict[IsoWeek, list[DocRow]],
) -> dict[str, Any]:
    prev = counts[prev_week] if by_week[prev_week] else None
    mean = round(sum(counts[w] for w in history) / len(history), 4) if history else None
    return {
        "this": this,
        "prev": prev,
        "wow": _ratio(this - prev, prev) if prev else None,
        "mean12": mean,
        "weeks_in_mean": len(history),
        "vs_mean": _ratio(this, mean) if mean else None,
    }


def _baseline(
    thresholds: Thresholds, weeks: int, documents: int, known_country: int
) -> dict[str, Any]:
    """Is the history behind each trailing comparison enough to grade it? (基线不足 if not)."""
    rule = thresholds.baseline
    ok = {
        "filings_vs_mean": rule.sufficient(weeks, documents),
        "foreign_share_change": rule.sufficient(weeks, known_country),
    }
    return {
        "weeks": weeks,
        "documents": documents,
        "known_country": known_country,
        "ok": ok,
        "note": None if all(ok.values()) else NO_BASELINE_ZH,
    }


def _foreign(docs: list[DocRow], history_docs: list[DocRow]) -> dict[str, Any]:
    known = [d for d in docs if d.first_country is not None]
    foreign = [d for d in known if d.first_country != "CN"]
    hist_known = [d for d in history_docs if d.first_country is not None]
    hist_foreign = [d for d in hist_known if d.first_country != "CN"]
    share = _ratio(len(foreign), len(known))
    trailing = _ratio(len(hist_foreign), len(hist_known))
    change = (
        round((share - trailing) * 100, 2) if share is not None and trailing is not None else None
    )
    countries = Counter(d.first_country for d in foreign)
    return {
        "count": len(foreign),
        "known": len(known),
        "share": share,
        "trailing_share": trailing,
        "trailing_known": len(hist_known),
        "change_points": change,
        "countries": dict(sorted(countries.items(), key=lambda kv: (-kv[1], kv[0] or ""))),
    }


def _concentration(docs: list[DocRow]) -> tuple[list[dict[str, Any]], float | None, float | None]:
    counts: Counter[str] = Counter()
    names: dict[str, str] = {}
    for doc in docs:
        for applicant in doc.applicants:
            names.setdefault(applicant.key, applicant.name)
        for key in {a.key for a in doc.applicants}:
            counts[key] += 1
    total = sum(counts.values())
    if not total:
        return [], None, None
    ranked = sorted(counts.items(), key=lambda kv: (-kv[1], names[kv[0]]))
    top = [
        {"name": names[key], "documents": n, "share": _ratio(n, total)}
        for key, n in ranked[:TOP_APPLICANTS]
    ]
    cr4 = _ratio(sum(n for _, n in ranked[:4]), total)
    hhi = round(sum((n / total) ** 2 for n in counts.values()) * 10000, 1)
    return top, cr4, hhi


def _local(docs: list[DocRow], regions: tuple[str, ...]) -> dict[str, Any]:
    local_docs = [d for d in docs if any(a.is_local(regions) for a in d.applicants)]
    return {
        "total": len(local_docs),
        "by_region": {
            r: sum(any(a.is_local((r,)) for a in d.applicants) for d in docs) for r in regions
        },
        "documents": [
            {
                **_doc_ref(d),
                "local_applicants": [a.name for a in d.applicants if a.is_local(regions)],
            }
            for d in local_docs[:LIST_LIMIT]
        ],
    }


def _event_ref(event: EventRow) -> dict[str, Any]:
    return {
        **_doc_ref(event.document),
        "code": event.code,
        "category": event.category,
        "event_date": event.event_date.isoformat(),
        "from": list(event.from_parties),
        "to": list(event.to_parties),
    }


def _legal(events: list[EventRow]) -> dict[str, Any]:
    counts = Counter(e.category for e in events)
    ordered = sorted(events, key=lambda e: (e.event_date, e.document.number, e.id))
    transfers = [e for e in ordered if e.category == "transfer"]
    return {
        "total": len(events),
        "counts": {c: counts.get(c, 0) for c in CATEGORIES},
        "opportunities": [_event_ref(e) for e in ordered if is_free_to_use(e.code, e.category)][
            :LIST_LIMIT
        ],
        "invalidations": [_event_ref(e) for e in ordered if e.category == "invalidation"][
            :LIST_LIMIT
        ],
        "transfers_in": [_event_ref(e) for e in transfers if e.to_local and not e.from_local],
        "transfers_out": [_event_ref(e) for e in transfers if e.from_local and not e.to_local],
    }

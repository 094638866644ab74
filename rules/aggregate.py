"""Aggregate rules: trends over a window instead of single documents.

``surge``: an applicant's filings in a sector over the last ``window_weeks`` run at
``ratio`` times its rate over the ``baseline_weeks`` before; ``new_entrant``: an applicant with
``min_count`` filings in a sector where it had none in the baseline; ``count``: at least
``min_count`` qualifying documents or legal events (e.g. invalidations of local patents).
Documents qualify through the same exact checks as document rules.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from rules.docview import MatchDoc
from rules.engine import CompiledRule, CompiledSubscription, applicant_key, dedupe_key


@dataclass
class AggregateMatch:
    """A fired aggregate rule for one group (applicant and/or sector) and one recipient."""

    rule: CompiledRule
    group: dict[str, str]
    window_count: int
    baseline_count: int
    window_start: dt.date
    window_end: dt.date
    examples: list[str]
    subscription: CompiledSubscription | None = None
    explanation: dict[str, Any] = field(default_factory=dict)
    doc: MatchDoc | None = None
    event: None = None

    @property
    def enterprise_id(self) -> str | None:
        return (
            self.subscription.enterprise_id
            if self.subscription
            else self.explanation.get("notify_enterprise")
        )

    @property
    def subject(self) -> str:
        group = ",".join(f"{k}={v}" for k, v in sorted(self.group.items()))
        year, week, _ = self.window_end.isocalendar()
        return f"agg:{group}:{year}-W{week:02d}"

    @property
    def dedupe_key(self) -> str:
        return dedupe_key(self.rule, self.enterprise_id, self.subject)

    @property
    def as_of(self) -> dt.date:
        return self.window_end

    def identity(self) -> tuple[str, str | None, str]:
        return (self.rule.id, self.enterprise_id, self.subject)


def lookback_days(rules: Sequence[CompiledRule]) -> int:
    """How far back the store must be read for these rules."""
    spans = [
        (r.spec.aggregate.window_weeks + r.spec.aggregate.baseline_weeks) * 7
        for r in rules
        if r.spec.aggregate is not None
    ]
    return max(spans, default=0)


def _groups(rule: CompiledRule, doc: MatchDoc, matched: dict[str, Any]) -> list[dict[str, str]]:
    spec = rule.spec
    assert spec.aggregate is not None
    by = spec.aggregate.group_by
    sectors: list[str] = [""]
    if "sector" in by:
        sectors = sorted(
            matched.get("sectors")
            or {s for s, c in doc.sectors.items() if c >= spec.when.min_confidence}
        )
    applicants: list[str] = [""]
    if "applicant" in by:
        names = (
            matched.get("applicant_foreign")
            if isinstance(matched.get("applicant_foreign"), list)
            else None
        )
        names = names or (
            matched.get("applicant_local")
            if isinstance(matched.get("applicant_local"), list)
            else None
        )
        applicants = sorted({applicant_key(a) for a in (names or doc.applicants)})
    return [
        {k: v for k, v in (("applicant", a), ("sector", s)) if k in by}
        for a in applicants
        for s in sectors
    ]


def evaluate_aggregates(
    rules: Sequence[CompiledRule],
    docs: Iterable[MatchDoc],
    today: dt.date,
    subscriptions: Sequence[CompiledSubscription] = (),
    *,
    regions: tuple[str, ...] = ("鞍山", "辽宁"),
) -> list[AggregateMatch]:
    """Fire every aggregate rule whose trend condition holds on ``today``."""
    rules = [r for r in rules if r.spec.kind == "aggregate" and r.spec.aggregate is not None]
    if not rules:
        return []
    docs = list(docs)
    results: list[AggregateMatch] = []
    for rule in rules:
        agg = rule.spec.aggregate
        assert agg is not None
        window_start = today - dt.timedelta(weeks=agg.window_weeks)
        baseline_start = window_start - dt.timedelta(weeks=agg.baseline_weeks)
        window: dict[tuple[tuple[str, str], ...], list[str]] = defaultdict(list)
        baseline: dict[tuple[tuple[str, str], ...], int] = defaultdict(int)
        for doc in docs:
            publication_only = doc.is_new_publication
            doc.is_new_publication = True  # trends count old publications too
            try:
                checked = rule.check(doc, regions)
            finally:
                doc.is_new_publication = publication_only
            if checked is None:
                continue
            matched, events = checked
            dates = [e.date for e in events] if rule.event_rule else [doc.publication_date]
            for day in dates:
                if day is None or day > today or day < baseline_start:
                    continue
                for group in _groups(rule, doc, matched):
                    key = tuple(sorted(group.items()))
                    if day > window_start:
                        window[key].append(doc.number)
                    else:
                        baseline[key] += 1
        for key, numbers in sorted(window.items()):
            count, base = len(numbers), baseline.get(key, 0)
            if not _fires(
                agg.metric,
                count,
                base,
                agg.min_count,
                agg.ratio,
                agg.window_weeks,
                agg.baseline_weeks,
            ):
                continue
            group = dict(key)
            fired = AggregateMatch(
                rule, group, count, base, window_start, today, sorted(set(numbers))[:10]
            )
            results.extend(_address(fired, subscriptions))
    return results


def _fires(
    metric: str,
    count: int,
    base: int,
    min_count: int,
    ratio: float,
    window_weeks: int,
    baseline_weeks: int,
) -> bool:
    if count < min_count:
        return False
    if metric == "new_entrant":
        return base == 0
    if metric == "surge":
        return count / window_weeks >= ratio * max(base, 1) / baseline_weeks
    return True


def _explain(m: AggregateMatch, sub: CompiledSubscription | None) -> dict[str, Any]:
    spec = m.rule.spec
    agg = spec.aggregate
    assert agg is not None
    out: dict[str, Any] = {
        "rule": spec.summary(),
        "matched_conditions": {
            "metric": agg.metric,
            "group": m.group,
            "window_count": m.window_count,
            "baseline_count": m.baseline_count,
            "window_weeks": agg.window_weeks,
            "baseline_weeks": agg.baseline_weeks,
            "min_count": agg.min_count,
            "ratio": agg.ratio,
        },
        "matched_terms": [],
        "ipc_overlap": [],
        "number": None,
        "examples": m.examples,
        "applicants": [m.group["applicant"]] if "applicant" in m.group else [],
        "source": "aggregate",
        "window": {"start": m.window_start.isoformat(), "end": m.window_end.isoformat()},
        "as_of": m.window_end.isoformat(),
    }
    if sub is not None:
        out["enterprise"] = {
            "id": sub.enterprise_id,
            "name": sub.enterprise_name,
            "subscription": sub.spec.name,
        }
    return out


def _address(
    m: AggregateMatch, subscriptions: Sequence[CompiledSubscription]
) -> list[AggregateMatch]:
    notify = m.rule.spec.notify
    if isinstance(notify, list):
        out = []
        for enterprise_id in notify:
            copy = AggregateMatch(**{**m.__dict__, "explanation": _explain(m, None)})
            copy.explanation["notify_enterprise"] = enterprise_id
            out.append(copy)
        return out
    chosen: dict[str, CompiledSubscription] = {}
    if notify == "subscribers":
        for sub in subscriptions:
            scope = sub.spec.scope
            in_scope = m.group.get("sector") in scope.sectors or (
                "applicant" in m.group
                and any(k in m.group["applicant"] for k in sub.competitor_keys)
            )
            if in_scope and sub.enterprise_id not in chosen:
                chosen[sub.enterprise_id] = sub
    if not chosen:
        return [AggregateMatch(**{**m.__dict__, "explanation": _explain(m, None)})]
    return [
        AggregateMatch(**{**m.__dict__, "subscription": sub, "explanation": _explain(m, sub)})
        for sub in chosen.values()
    ]

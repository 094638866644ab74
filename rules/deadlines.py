"""Deadline rules (``kind: deadline``): legal-status dates of rights in force, per subscriber.

Why a rule kind: "expiring in my scope" and "my own patents' fee anniversaries" are alerts an
enterprise subscribes to like any other, so they flow through the same path (alerts with an
explanation, outbox, delivery policy). They are computed from the calendar, not from a new
document, so they run once per local day (like aggregates) with the deterministic dates of
:mod:`warning.forecast.legal`; the dedupe key names the right and the date, so a deadline is
alerted once per enterprise however many days it stays within the window.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from rules.engine import CompiledRule, CompiledSubscription, dedupe_key
from warning.forecast.data import StoreDoc
from warning.forecast.expiring import Scope
from warning.forecast.legal import Deadline, add_months, add_years, deadlines, expiry_date


@dataclass
class DeadlineMatch:
    """A deadline of one right for one subscriber."""

    rule: CompiledRule
    deadline: Deadline
    subscription: CompiledSubscription
    today: dt.date
    event: None = None

    @property
    def doc(self) -> StoreDoc:
        return self.deadline.doc

    @property
    def enterprise_id(self) -> str:
        return self.subscription.enterprise_id

    @property
    def subject(self) -> str:
        d = self.deadline
        return f"deadline:{d.event}:{d.doc.number}:{d.date.isoformat()}"

    @property
    def dedupe_key(self) -> str:
        return dedupe_key(self.rule, self.enterprise_id, self.subject)

    @property
    def as_of(self) -> dt.date:
        return self.today

    def identity(self) -> tuple[str, str | None, str]:
        return (self.rule.id, self.enterprise_id, self.subject)

    @property
    def explanation(self) -> dict[str, Any]:
        d, sub = self.deadline, self.subscription
        item = d.to_json()
        if d.event == "expiry":
            reason = (
                f"{item['right_zh']} {d.doc.number} 保护期届满 {d.date.isoformat()}"
                f"（次日起可自由实施；请先核查国外同族）"
            )
        else:
            reason = (
                f"{item['right_zh']} {d.doc.number} 第 {d.fee_year} 年年费应于 "
                f"{d.date.isoformat()} 前缴纳（滞纳期至 {item['grace_until']}）"
            )
        return {
            "rule": self.rule.spec.summary(),
            "matched_conditions": {"deadline": d.event, "within_months": self._months},
            "scope": _matched_scope(d.doc, sub),
            "number": d.doc.number,
            "title": d.doc.title,
            "applicants": item["applicants"],
            "ipc": list(d.doc.ipc),
            "deadline": {
                k: item[k] for k in ("event", "date", "expiry", "fee_year", "grace_until", "own")
            },
            "reason": reason,
            "publication_date": d.doc.publication_date.isoformat(),
            "as_of": self.today.isoformat(),
            "enterprise": {
                "id": sub.enterprise_id,
                "name": sub.enterprise_name,
                "subscription": sub.spec.name,
            },
        }

    @property
    def _months(self) -> int:
        spec = self.rule.spec.deadline
        assert spec is not None
        return spec.months


def subscription_scope(sub: CompiledSubscription) -> Scope:
    """The subscription's scope as the deadline listing reads it (no keywords: full text)."""
    scope = sub.spec.scope
    return Scope(
        f"enterprise {sub.enterprise_id}",
        frozenset(scope.sectors),
        frozenset(scope.subfields),
        tuple(scope.ipc),
        frozenset(scope.own_patents),
    )


def _matched_scope(doc: StoreDoc, sub: CompiledSubscription) -> dict[str, Any]:
    scope = sub.spec.scope
    found: dict[str, Any] = {}
    if doc.number in scope.own_patents:
        found["own_patents"] = [doc.number]
    if hits := sorted(set(scope.sectors) & set(doc.sectors)):
        found["sectors"] = hits
    if hits := sorted(set(scope.subfields) & set(doc.subfields)):
        found["subfields"] = hits
    if hits := [p for p in scope.ipc if any(s.startswith(p) for s in doc.ipc)]:
        found["ipc"] = hits
    return found


def evaluate_deadlines(
    rules: Sequence[CompiledRule],
    docs: list[StoreDoc],
    today: dt.date,
    subs: Sequence[CompiledSubscription],
) -> list[DeadlineMatch]:
    """Every deadline rule's deadlines in ``(today, today + months]`` for every subscription."""
    return deadlines_between(rules, docs, today, today, subs)


def deadlines_between(
    rules: Sequence[CompiledRule],
    docs: list[StoreDoc],
    first: dt.date,
    last: dt.date,
    subs: Sequence[CompiledSubscription],
) -> list[DeadlineMatch]:
    """The deadline alerts the daily match raises on the local days ``first..last``.

    The match stage runs this once per local day (``first == last``); `ipwarn rules test
    --since/--until` on every day of the period at once. Each day sees the deadlines in
    ``(day, day + months]`` of the rights in force on that day (a right published or ended
    later is judged as it then stood). Deadlines are deduplicated by their store key, as the
    store would: a deadline is raised on the first day it enters a rule's window. ``docs``: the
    store's documents published up to ``last``, with their events.
    """
    wanted = [r for r in rules if r.spec.kind == "deadline" and r.spec.deadline is not None]
    if not wanted or not subs:
        return []
    # only grants with a filing date can be rights in force: the others never yield a deadline
    grants = [d for d in docs if d.is_grant and d.application_date is not None]
    seen: set[str] = set()
    found: list[DeadlineMatch] = []
    for rule in wanted:
        spec = rule.spec.deadline
        assert spec is not None
        own_only = spec.own_patents_only or spec.event == "fee_anniversary"
        until = add_months(last, spec.months)
        for sub in subs:
            scope = subscription_scope(sub)
            covered = [
                d
                for d in grants
                if (d.number in scope.own if own_only else scope.covers(d))
                and _may_fall_due(d, spec.event, first, until)
            ]
            day = first
            while covered and day <= last:
                for item in deadlines(covered, day, spec.months, own=scope.own):
                    if item.event != spec.event:
                        continue
                    match = DeadlineMatch(rule, item, sub, day)
                    if match.dedupe_key not in seen:
                        seen.add(match.dedupe_key)
                        found.append(match)
                day += dt.timedelta(days=1)
    return sorted(found, key=lambda m: (m.today, m.deadline.date, m.doc.number, m.rule.id))


def _may_fall_due(doc: StoreDoc, event: str, first: dt.date, until: dt.date) -> bool:
    """Whether ``doc`` has an ``event`` date in ``(first, until]`` at all (a cheap pre-filter:
    :func:`warning.forecast.legal.deadlines` decides, day by day, with the right's state)."""
    assert doc.application_date is not None
    expiry = expiry_date(doc.kind_class or "", doc.application_date)
    if expiry is None or expiry <= first:
        return False
    if event == "expiry":
        return expiry <= until
    latest = min(until, expiry)
    year = max(1, first.year - doc.application_date.year)
    while (anniversary := add_years(doc.application_date, year)) <= latest:
        if anniversary > first:
            return True
        year += 1
    return False

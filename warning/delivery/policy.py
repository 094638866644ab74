"""What is held back when rows are claimed: silences, inhibition and the daily cap.

Decisions are written in the claim transaction, so they are durable and made once:
* a **silence** (rule, enterprise or document family, optionally for one enterprise, until a
  date) marks the row ``suppressed`` with the silence named in ``last_error``;
* **inhibition**: a lapse/invalidation alert on a patent suppresses lower-severity alerts on the
  same patent for the same recipient in the same batch (one mail says "this patent lapsed"
  instead of also "this patent matches your keywords");
* the **daily cap** (``Subscription.daily_cap``, per enterprise and local day) moves overflow to
  the next daily digest: the row stays ``pending`` with a new due time and group, never dropped.
  Digests are not capped, which is what guarantees that.
"""

from __future__ import annotations

import datetime as dt
import re
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from warning.config import Settings
from warning.delivery.message import severity_rank
from warning.delivery.schedule import (
    DIGEST_FREQUENCIES,
    group_frequency,
    rollover_group_key,
    slot_end,
)
from warning.store.models import Alert, Document, LegalEvent, OutboxMessage, Silence, Subscription

#: legal-event categories/codes that mean a patent lapsed or was invalidated
LAPSE_CATEGORIES = frozenset(
    {
        "termination",
        "lapse",
        "expiry",
        "expiration",
        "cessation",
        "ip right cessation",
        "invalidation",
        "invalidated",
        "revocation",
        "revoked",
        "abandonment",
        "withdrawal",
    }
)
LAPSE_CODES = frozenset({"CF01", "AD01", "AV01", "AR01", "EXPY", "PC01", "IW01", "IW02"})


def family_key(value: str | None) -> str:
    """A publication/application number folded for comparison: CN115212463A -> CN115212463."""
    compact = re.sub(r"[^0-9A-Z]", "", (value or "").upper())
    match = re.match(r"^([A-Z]{2}\d+)[A-Z]\d?$", compact)
    return match.group(1) if match else compact


@dataclass
class AlertFacts:
    """What the policies need to know about an alert."""

    alert_id: int
    rule_id: str
    severity: str
    enterprise_id: str | None
    document_id: int | None
    families: frozenset[str]
    is_lapse: bool
    daily_cap: int | None
    #: infringement-risk screening score (None for rule alerts): screening yields to rules
    screening_score: float | None = None

    def cap_order(self) -> tuple[int, int, float, int]:
        """Most important first: severity, then rule alerts before screening, then score."""
        return (
            severity_rank(self.severity),
            0 if self.screening_score is None else 1,
            -(self.screening_score or 0.0),
            self.alert_id,
        )


def load_facts(session: Session, alert_ids: Iterable[int]) -> dict[int, AlertFacts]:
    ids = sorted(set(alert_ids))
    if not ids:
        return {}
    rows = session.execute(
        select(Alert, Document, LegalEvent, Subscription.daily_cap)
        .outerjoin(Document, Document.id == Alert.document_id)
        .outerjoin(LegalEvent, LegalEvent.id == Alert.legal_event_id)
        .outerjoin(Subscription, Subscription.id == Alert.subscription_id)
        .where(Alert.id.in_(ids))
    ).all()
    facts: dict[int, AlertFacts] = {}
    for alert, document, event, cap in rows:
        families = set()
        if document is not None:
            families |= {family_key(document.number), family_key(document.application_number)}
        explanation = alert.explanation or {}
        families.add(family_key(str(explanation.get("number") or "")))
        families.discard("")
        facts[alert.id] = AlertFacts(
            alert_id=alert.id,
            rule_id=alert.rule_id,
            severity=alert.severity,
            enterprise_id=alert.enterprise_id,
            document_id=alert.document_id,
            families=frozenset(families),
            is_lapse=_is_lapse(event, explanation),
            daily_cap=cap,
            screening_score=_screening_score(explanation),
        )
    return facts


def _screening_score(explanation: dict[str, object]) -> float | None:
    similarity = explanation.get("similarity")
    if isinstance(similarity, dict) and isinstance(similarity.get("score"), int | float):
        return float(similarity["score"])
    return None


def _is_lapse(event: LegalEvent | None, explanation: dict[str, object]) -> bool:
    values = [
        str(explanation.get(k) or "").lower()
        for k in ("event_category", "category", "event", "kind")
    ]
    if event is not None:
        values.append((event.category or "").lower())
        if event.code.upper() in LAPSE_CODES:
            return True
    return any(v in LAPSE_CATEGORIES for v in values)


def active_silences(session: Session, now: dt.datetime) -> list[Silence]:
    return list(session.scalars(select(Silence).where(Silence.until > now)))


def silence_for(row: OutboxMessage, facts: AlertFacts, silences: list[Silence]) -> Silence | None:
    for silence in silences:
        if silence.enterprise_id and silence.enterprise_id != row.enterprise_id:
            continue
        target = silence.target.strip()
        if (
            (silence.kind == "rule" and target == facts.rule_id)
            or (silence.kind == "enterprise" and target == (row.enterprise_id or ""))
            or (silence.kind == "family" and family_key(target) in facts.families)
        ):
            return silence
    return None


def inhibited_by(rows: list[OutboxMessage], facts: dict[int, AlertFacts]) -> dict[int, int]:
    """Row id -> id of the lapse alert that inhibits it (same recipient and patent)."""
    strongest: dict[tuple[str, int], AlertFacts] = {}
    for row in rows:
        f = facts.get(row.alert_id or -1)
        if f is None or not f.is_lapse or f.document_id is None:
            continue
        key = (row.recipient.lower(), f.document_id)
        best = strongest.get(key)
        if best is None or severity_rank(f.severity) < severity_rank(best.severity):
            strongest[key] = f
    result: dict[int, int] = {}
    for row in rows:
        f = facts.get(row.alert_id or -1)
        if f is None or f.is_lapse or f.document_id is None:
            continue
        lapse = strongest.get((row.recipient.lower(), f.document_id))
        if lapse is not None and severity_rank(f.severity) > severity_rank(lapse.severity):
            result[row.id] = lapse.alert_id
    return result


def local_day_start(now: dt.datetime, settings: Settings) -> dt.datetime:
    local = now.astimezone(settings.tz)
    return local.replace(hour=0, minute=0, second=0, microsecond=0).astimezone(dt.UTC)


def over_cap(
    session: Session,
    rows: list[OutboxMessage],
    facts: dict[int, AlertFacts],
    now: dt.datetime,
    settings: Settings,
) -> set[int]:
    """Ids of rows beyond their enterprise's daily cap.

    The most important alerts are kept (:meth:`AlertFacts.cap_order`: severity, then rule alerts
    before screening hits, then screening score), so a rule alert is never deferred for a
    screening hit of the same or lower severity.
    """
    capped: dict[str, int] = {}
    candidates: dict[str, list[OutboxMessage]] = defaultdict(list)
    for row in rows:
        f = facts.get(row.alert_id or -1)
        if f is None or f.daily_cap is None or not row.enterprise_id:
            continue
        if group_frequency(row.group_key) in DIGEST_FREQUENCIES:
            continue
        enterprise = row.enterprise_id
        capped[enterprise] = min(capped.get(enterprise, f.daily_cap), f.daily_cap)
        candidates[enterprise].append(row)
    result: set[int] = set()
    day_start = local_day_start(now, settings)
    for enterprise, cap in capped.items():
        sent_today = set(
            session.scalars(
                select(func.distinct(OutboxMessage.alert_id)).where(
                    OutboxMessage.kind == "alert",
                    OutboxMessage.enterprise_id == enterprise,
                    OutboxMessage.status.in_(("sent", "sending")),
                    OutboxMessage.claimed_at >= day_start,
                    OutboxMessage.group_key.like("%|immediate|%"),
                )
            )
        )
        allowed = set(sent_today)
        ordered = sorted(candidates[enterprise], key=lambda r: facts[r.alert_id or -1].cap_order())
        for row in ordered:
            if row.alert_id in allowed:
                continue
            if len(allowed) < cap:
                allowed.add(row.alert_id)
            else:
                result.add(row.id)
    return result


def roll_over(row: OutboxMessage, now: dt.datetime, settings: Settings) -> None:
    """Move a capped row into the next daily digest of its subscription (still pending)."""
    due = slot_end("daily", now, settings)
    row.payload = {**(row.payload or {}), "rolled_over_from": row.group_key}
    row.group_key = rollover_group_key(row.group_key, due)
    row.due_at = due
    row.status = "pending"
    row.last_error = HELD_BACK_REASON


#: why a row was held back (stored on the row, counted in the digest that carries it)
HELD_BACK_REASON = (
    "daily cap reached; moved to the next daily digest (the most severe and strongest alerts "
    "were sent first)"
)

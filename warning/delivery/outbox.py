"""Queueing messages for delivery and reading the outbox's state.

Every alert for every recipient is one outbox row, inserted in the transaction that stores the
alert, under a unique idempotency key (alert, recipient): queueing twice changes nothing.
Statuses: ``pending`` -> ``sending`` (claimed) -> ``sent``; or ``retrying`` (4xx, connection
errors; due again after a back-off), ``dead`` (5xx, refused recipient, too many attempts; the
server's answer in ``last_error``), ``suppressed`` (silenced or inhibited; the reason in
``last_error``), ``cancelled`` (the recipient was removed from its enterprise or the
subscription was deactivated before the row went out; the reason in ``last_error``).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from warning.store.models import Alert, Enterprise, OutboxMessage, Subscription
from warning.store.upsert import insert_ignore_returning_id

FREQUENCIES = ("immediate", "daily", "weekly")
#: every status a row can have, in the order `ipwarn outbox` prints them
STATUSES = ("pending", "sending", "retrying", "sent", "dead", "suppressed", "held", "cancelled")
#: rows that still have to go out
UNSENT = ("pending", "sending", "retrying")


def alert_idempotency_key(alert_id: int, recipient: str) -> str:
    return f"alert:{alert_id}:{recipient.strip().lower()}"


def enqueue_alert(
    session: Session,
    alert: Alert,
    recipients: list[str],
    *,
    due_at: dt.datetime,
    group_key: str,
) -> int:
    """Queue ``alert`` for each recipient unless already queued; returns how many rows were new.

    Call it in the same transaction that stores the alert, so an alert is never stored
    without its outbox rows (or the other way round).
    """
    if alert.id is None:
        session.flush()
    created = 0
    for recipient in recipients:
        new_id = insert_ignore_returning_id(
            session,
            OutboxMessage.__table__,
            {
                "idempotency_key": alert_idempotency_key(alert.id, recipient),
                "kind": "alert",
                "alert_id": alert.id,
                "enterprise_id": alert.enterprise_id,
                "recipient": recipient.strip(),
                "group_key": group_key,
                "status": "pending",
                "due_at": due_at,
                "attempts": 0,
                "payload": {},
                "created_at": dt.datetime.now(dt.UTC),
            },
            ["idempotency_key"],
        )
        created += new_id is not None
    return created


def enqueue_operator(
    session: Session,
    recipients: list[str],
    *,
    key: str,
    subject: str,
    text: str,
    now: dt.datetime,
) -> int:
    """Queue an operator notice once per ``key`` and recipient; returns how many rows were new."""
    created = 0
    for recipient in recipients:
        new_id = insert_ignore_returning_id(
            session,
            OutboxMessage.__table__,
            {
                "idempotency_key": f"operator:{key}:{recipient.strip().lower()}",
                "kind": "operator",
                "recipient": recipient.strip(),
                "group_key": None,
                "status": "pending",
                "due_at": now,
                "attempts": 0,
                "payload": {"subject": subject, "text": text},
                "created_at": now,
            },
            ["idempotency_key"],
        )
        created += new_id is not None
    return created


@dataclass
class OutboxSummary:
    """What `ipwarn outbox` prints: rows per status and how overdue the oldest unsent row is."""

    counts: dict[str, int] = field(default_factory=dict)
    #: seconds since the oldest unsent row became due (None: nothing is overdue)
    oldest_pending_age_seconds: float | None = None
    oldest_pending_id: int | None = None
    #: unsent rows not yet due (digests waiting for their time, back-offs)
    scheduled: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {
            "counts": self.counts,
            "oldest_pending_age_seconds": self.oldest_pending_age_seconds,
            "oldest_pending_id": self.oldest_pending_id,
            "scheduled": self.scheduled,
        }


def outbox_summary(session: Session, now: dt.datetime) -> OutboxSummary:
    """Counts per status (every known status, zeros included) and the oldest overdue row.

    The age is measured from when a row first became due, not from creation: a weekly digest
    row waiting for Monday is not late; a row due an hour ago and still unsent (or retrying
    since then) is.
    """
    rows = session.execute(
        select(OutboxMessage.status, func.count()).group_by(OutboxMessage.status)
    ).all()
    counts = dict.fromkeys(STATUSES, 0)
    for status, count in rows:
        counts[status] = int(count)
    oldest = session.execute(
        select(OutboxMessage.id, OutboxMessage.due_at)
        .where(OutboxMessage.status.in_(("pending", "sending")), OutboxMessage.due_at <= now)
        .order_by(OutboxMessage.due_at, OutboxMessage.id)
        .limit(1)
    ).first()
    candidates = [(oldest.due_at, oldest.id)] if oldest is not None else []
    # a retried row's due_at moves with every back-off; its lateness counts from its first due
    for row_id, due_at, payload in session.execute(
        select(OutboxMessage.id, OutboxMessage.due_at, OutboxMessage.payload).where(
            OutboxMessage.status == "retrying"
        )
    ):
        first = _first_due(payload, due_at)
        if first <= now:
            candidates.append((first, row_id))
    scheduled = session.execute(
        select(func.count())
        .select_from(OutboxMessage)
        .where(OutboxMessage.status.in_(UNSENT), OutboxMessage.due_at > now)
    ).scalar_one()
    summary = OutboxSummary(counts=counts, scheduled=int(scheduled))
    if candidates:
        first_due, row_id = min(candidates)
        summary.oldest_pending_id = row_id
        summary.oldest_pending_age_seconds = round((now - first_due).total_seconds(), 1)
    return summary


def _first_due(payload: dict[str, Any] | None, due_at: dt.datetime) -> dt.datetime:
    value = (payload or {}).get("first_due_at")
    if isinstance(value, str):
        try:
            parsed = dt.datetime.fromisoformat(value)
            return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)
        except ValueError:
            pass
    return due_at


def dead_letters(session: Session, limit: int = 50) -> list[OutboxMessage]:
    """The most recent dead rows, with the server's answer in ``last_error``."""
    stmt = (
        select(OutboxMessage)
        .where(OutboxMessage.status == "dead")
        .order_by(OutboxMessage.id.desc())
        .limit(limit)
    )
    return list(session.scalars(stmt))


def requeue_dead(session: Session, now: dt.datetime, ids: list[int] | None = None) -> int:
    """Put dead rows back to ``pending`` (after fixing an address or the server); returns count."""
    stmt = (
        update(OutboxMessage)
        .where(OutboxMessage.status == "dead")
        .values(status="pending", due_at=now, attempts=0, claimed_by=None, claimed_at=None)
    )
    if ids:
        stmt = stmt.where(OutboxMessage.id.in_(ids))
    return int(session.execute(stmt).rowcount)  # type: ignore[attr-defined]


#: unsent rows that may still be cancelled (``sending`` rows are in flight: left alone)
CANCELLABLE = ("pending", "retrying", "held")


def cancel_unwanted(session: Session) -> int:
    """Cancel queued alert mail nobody should get any more; returns how many rows.

    A row is cancelled when its recipient is no longer one of its enterprise's recipients
    (re-imported without it, or the enterprise removed) or when the subscription that raised
    its alert was deactivated. Called by `subscriptions import|unsubscribe|remove` and before
    every deliver run, so a removed address never gets the backlog.
    """
    queued = (
        select(
            OutboxMessage.id, OutboxMessage.recipient, Enterprise.recipients, Subscription.active
        )
        .join(Alert, Alert.id == OutboxMessage.alert_id)
        .outerjoin(Enterprise, Enterprise.id == OutboxMessage.enterprise_id)
        .outerjoin(Subscription, Subscription.id == Alert.subscription_id)
        .where(OutboxMessage.kind == "alert", OutboxMessage.status.in_(CANCELLABLE))
    )
    removed: list[int] = []
    inactive: list[int] = []
    for row_id, recipient, recipients, active in session.execute(queued):
        if active is False:
            inactive.append(row_id)
        elif recipient.strip().lower() not in {r.strip().lower() for r in recipients or []}:
            removed.append(row_id)
    for ids, reason in (
        (removed, "recipient removed from the enterprise"),
        (inactive, "subscription deactivated"),
    ):
        for start in range(0, len(ids), 500):
            session.execute(
                update(OutboxMessage)
                .where(
                    OutboxMessage.id.in_(ids[start : start + 500]),
                    OutboxMessage.status.in_(CANCELLABLE),
                )
                .values(
                    status="cancelled",
                    last_error=f"cancelled: {reason}",
                    claimed_by=None,
                )
            )
    return len(removed) + len(inactive)

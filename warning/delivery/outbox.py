"""Queueing alerts for delivery: one outbox row per (alert, recipient), in the alert's transaction."""

from __future__ import annotations

import datetime as dt

from sqlalchemy.orm import Session

from warning.store.models import Alert, OutboxMessage
from warning.store.upsert import insert_ignore_returning_id

FREQUENCIES = ("immediate", "daily", "weekly")


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
            OutboxMessage.__table__,  # type: ignore[arg-type]
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

"""Operator health checks: stale sources and a backed-up outbox, reported once a day each."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from warning.config import Settings
from warning.logging import get_logger
from warning.store.models import OutboxMessage, utcnow
from warning.store.upsert import insert_ignore_returning_id

log = get_logger(__name__)


@dataclass
class HealthReport:
    stale_sources: list[tuple[str, dt.datetime | None]]
    oldest_pending: dt.datetime | None
    outbox_stale: bool

    @property
    def problems(self) -> list[str]:
        out = [
            f"source {name!r} has yielded nothing new since "
            f"{last.isoformat(timespec='minutes') if last else 'it was configured'}"
            for name, last in self.stale_sources
        ]
        if self.outbox_stale and self.oldest_pending:
            out.append(
                f"the oldest pending outbox message waits since {self.oldest_pending.isoformat(timespec='minutes')}"
            )
        return out


def stale_sources(
    session: Session, settings: Settings, now: dt.datetime
) -> list[tuple[str, dt.datetime | None]]:
    try:
        from crawlers.health import stale_sources as crawler_stale
    except ImportError:
        return []
    result: list[tuple[str, dt.datetime | None]] = crawler_stale(session, settings, now)
    return result


def check(session: Session, settings: Settings, now: dt.datetime | None = None) -> HealthReport:
    now = now or utcnow()
    oldest = session.scalar(
        select(func.min(OutboxMessage.created_at)).where(
            OutboxMessage.status.in_(("pending", "retrying"))
        )
    )
    stale = oldest is not None and now - oldest > dt.timedelta(
        minutes=settings.outbox_stale_minutes
    )
    return HealthReport(stale_sources(session, settings, now), oldest, stale)


def notify_operators(
    session: Session, settings: Settings, report: HealthReport, now: dt.datetime
) -> int:
    """Queue one operator message per problem per day (idempotent within the day)."""
    queued = 0
    day = now.astimezone(settings.tz).date().isoformat()
    for problem in report.problems:
        log.warning("health.problem", problem=problem)
        for recipient in settings.operator_recipients:
            payload: dict[str, Any] = {
                "subject": f"[ipwarn] 运维告警: {problem[:80]}",
                "text": problem,
            }
            new = insert_ignore_returning_id(
                session,
                OutboxMessage.__table__,
                {
                    "idempotency_key": f"operator:{day}:{problem[:200]}:{recipient}",
                    "kind": "operator",
                    "recipient": recipient,
                    "status": "pending",
                    "due_at": now,
                    "attempts": 0,
                    "payload": payload,
                    "created_at": now,
                },
                ["idempotency_key"],
            )
            queued += new is not None
    return queued

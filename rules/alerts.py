"""Stored alerts with their explanations, for `ipwarn alerts` (and any future console page).

Alerts are read newest first, filtered by enterprise, rule, creation date and status; each
comes with the same "why" lines its mail card shows (:func:`explanation_rows`), so an operator
can answer "why did ent-1 get this" without opening the mail. ``status="test"`` lists what
rules in the *test* status matched: recorded, never sent.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from warning.store.models import Alert, Document, LegalEvent

#: every status an alert can have (see :class:`warning.store.models.Alert`)
ALERT_STATUSES = ("new", "test", "queued", "suppressed", "sent")


@dataclass
class AlertRow:
    id: int
    created_at: dt.datetime
    status: str
    severity: str
    rule_id: str
    rule_version: int
    enterprise_id: str | None
    number: str
    title: str
    why: list[tuple[str, str]] = field(default_factory=list)
    explanation: dict[str, Any] = field(default_factory=dict)


def list_alerts(
    session: Session,
    *,
    enterprise: str | None = None,
    rule: str | None = None,
    since: dt.datetime | None = None,
    status: str | None = None,
    limit: int = 50,
) -> list[AlertRow]:
    """Alerts newest first with their explanation rows."""
    from warning.delivery.deliverer import alert_fallbacks, sector_names
    from warning.delivery.message import explanation_rows
    from warning.taxonomy import load_taxonomy

    stmt = (
        select(Alert, Document, LegalEvent)
        .outerjoin(Document, Document.id == Alert.document_id)
        .outerjoin(LegalEvent, LegalEvent.id == Alert.legal_event_id)
        .order_by(Alert.created_at.desc(), Alert.id.desc())
        .limit(limit)
    )
    if enterprise is not None:
        stmt = stmt.where(Alert.enterprise_id == enterprise)
    if rule is not None:
        stmt = stmt.where(Alert.rule_id == rule)
    if since is not None:
        stmt = stmt.where(Alert.created_at >= since)
    if status is not None:
        stmt = stmt.where(Alert.status == status)
    names = sector_names(set(load_taxonomy().labels))
    out = []
    for alert, document, event in session.execute(stmt):
        exp: dict[str, Any] = alert.explanation if isinstance(alert.explanation, dict) else {}
        out.append(
            AlertRow(
                id=alert.id,
                created_at=alert.created_at,
                status=alert.status,
                severity=alert.severity,
                rule_id=alert.rule_id,
                rule_version=alert.rule_version,
                enterprise_id=alert.enterprise_id,
                number=str(exp.get("number") or (document.number if document else "") or ""),
                title=str(exp.get("title") or (document.title if document else "") or ""),
                why=explanation_rows(exp, alert_fallbacks(alert, document, event), names),
                explanation=exp,
            )
        )
    return out

"""Alerts as the console and the API show them: filtered lists, the why-card, feedback.

The why-card is built by the same code as the alert mail (``alert_view`` and
``document_cards`` of the deliverer), so the page explains an alert exactly as the mail did.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, and_, case, exists, func, select
from sqlalchemy.orm import Session

from warning.config import Settings
from warning.dates import parse_date
from warning.delivery.deliverer import alert_view, sector_names
from warning.delivery.links import FEEDBACK_VERDICTS
from warning.delivery.message import document_cards, public_record_url
from warning.errors import InputError, Problem
from warning.store.models import (
    Alert,
    AlertFeedback,
    AlertRead,
    Document,
    Enterprise,
    LegalEvent,
    Rule,
)
from warning.taxonomy import load_taxonomy
from warning.web.auth import audit

SEVERITIES = ("critical", "high", "medium", "low")
MAX_COMMENT = 2000


@dataclass(frozen=True)
class AlertFilters:
    severity: str | None = None
    sector: str | None = None
    rule: str | None = None
    since: dt.date | None = None
    until: dt.date | None = None
    unread: bool = False
    enterprise: str | None = None

    def as_query(self) -> dict[str, str]:
        out = {
            "severity": self.severity or "",
            "sector": self.sector or "",
            "rule": self.rule or "",
            "since": self.since.isoformat() if self.since else "",
            "until": self.until.isoformat() if self.until else "",
            "unread": "1" if self.unread else "",
            "enterprise": self.enterprise or "",
        }
        return {k: v for k, v in out.items() if v}


def parse_filters(
    *,
    severity: str | None,
    sector: str | None,
    rule: str | None,
    since: str | None,
    until: str | None,
    unread: str | None,
    enterprise: str | None = None,
) -> AlertFilters:
    """Filters from query parameters; a bad value is an InputError naming the parameter."""
    problems = []
    if severity and severity not in SEVERITIES:
        problems.append(Problem(f"one of {', '.join(SEVERITIES)}", field="severity"))
    dates: dict[str, dt.date | None] = {}
    for name, value in (("since", since), ("until", until)):
        try:
            dates[name] = parse_date(value, name)
        except InputError as exc:
            problems.extend(exc.problems)
            dates[name] = None
    if problems:
        raise InputError(problems)
    return AlertFilters(
        severity=severity or None,
        sector=sector or None,
        rule=rule or None,
        since=dates["since"],
        until=dates["until"],
        unread=unread in ("1", "true", "on", "yes"),
        enterprise=enterprise or None,
    )


def _filtered(
    stmt: Select[Any], tenant: str | None, f: AlertFilters, user_id: int, tz: Any
) -> Select[Any]:
    if tenant is not None:
        stmt = stmt.where(Alert.enterprise_id == tenant)
    elif f.enterprise:
        stmt = stmt.where(Alert.enterprise_id == f.enterprise)
    if f.severity:
        stmt = stmt.where(Alert.severity == f.severity)
    if f.sector:
        stmt = stmt.where(Alert.sector == f.sector)
    if f.rule:
        stmt = stmt.where(Alert.rule_id == f.rule)
    if f.since:
        start = dt.datetime.combine(f.since, dt.time(), tzinfo=tz).astimezone(dt.UTC)
        stmt = stmt.where(Alert.created_at >= start)
    if f.until:
        end = dt.datetime.combine(f.until + dt.timedelta(days=1), dt.time(), tzinfo=tz)
        stmt = stmt.where(Alert.created_at < end.astimezone(dt.UTC))
    if f.unread:
        stmt = stmt.where(
            ~exists().where(and_(AlertRead.alert_id == Alert.id, AlertRead.user_id == user_id))
        )
    return stmt


#: alerts of test-status rules are recorded but never shown to enterprises
HIDDEN_STATUSES = ("test",)


def list_alerts(
    session: Session,
    *,
    tenant: str | None,
    filters: AlertFilters,
    user_id: int,
    tz: Any,
    page: int,
    per_page: int,
) -> tuple[list[dict[str, Any]], int]:
    """One page of alerts, newest first, with read state and feedback; and the total."""
    base = _filtered(select(Alert.id), tenant, filters, user_id, tz)
    if tenant is not None:
        base = base.where(Alert.status.not_in(HIDDEN_STATUSES))
    total = session.scalar(select(func.count()).select_from(base.subquery())) or 0
    read = (
        exists()
        .where(and_(AlertRead.alert_id == Alert.id, AlertRead.user_id == user_id))
        .correlate(Alert)
    )
    stmt = (
        _filtered(
            select(
                Alert.id,
                Alert.rule_id,
                Alert.rule_version,
                Alert.severity,
                Alert.sector,
                Alert.status,
                Alert.enterprise_id,
                Alert.created_at,
                Alert.explanation,
                Document.number,
                Document.title,
                AlertFeedback.verdict,
                case((read, True), else_=False).label("read"),
            )
            .outerjoin(Document, Document.id == Alert.document_id)
            .outerjoin(AlertFeedback, AlertFeedback.alert_id == Alert.id),
            tenant,
            filters,
            user_id,
            tz,
        )
        .order_by(Alert.created_at.desc(), Alert.id.desc())
        .limit(per_page)
        .offset((page - 1) * per_page)
    )
    if tenant is not None:
        stmt = stmt.where(Alert.status.not_in(HIDDEN_STATUSES))
    taxonomy = load_taxonomy()
    known = set(taxonomy.labels)
    rows = []
    for r in session.execute(stmt).all():
        exp = r.explanation if isinstance(r.explanation, dict) else {}
        rows.append(
            {
                "id": r.id,
                "rule_id": r.rule_id,
                "rule_version": r.rule_version,
                "rule_title": str(exp.get("rule_title") or ""),
                "severity": r.severity,
                "sector": r.sector,
                "sector_name": taxonomy.name_zh(r.sector)
                if r.sector in known
                else (r.sector or ""),
                "status": r.status,
                "enterprise_id": r.enterprise_id,
                "created_at": r.created_at,
                "number": r.number or str(exp.get("number") or ""),
                "title": r.title or str(exp.get("title") or ""),
                "verdict": r.verdict,
                "read": bool(r.read),
            }
        )
    return rows, int(total)


def load_alert(session: Session, alert_id: int) -> Alert | None:
    return session.get(Alert, alert_id)


def alert_detail(
    session: Session, alert: Alert, settings: Settings, now: dt.datetime
) -> dict[str, Any]:
    """Everything the detail page and ``GET /api/v1/alerts/{id}`` show."""
    rule = session.get(Rule, alert.rule_pk)
    assert rule is not None
    document = session.get(Document, alert.document_id) if alert.document_id else None
    event = session.get(LegalEvent, alert.legal_event_id) if alert.legal_event_id else None
    known = set(load_taxonomy().labels)
    view = alert_view(alert, rule, document, event, settings, known, now)
    card = document_cards([view])[0]
    events = []
    if document is not None:
        for ev in session.scalars(
            select(LegalEvent)
            .where(LegalEvent.document_id == document.id)
            .order_by(LegalEvent.event_date, LegalEvent.id)
        ):
            events.append(
                {
                    "code": ev.code,
                    "category": ev.category,
                    "date": ev.event_date,
                    "description": ev.description,
                }
            )
    feedback = session.scalar(select(AlertFeedback).where(AlertFeedback.alert_id == alert.id))
    enterprise = session.get(Enterprise, alert.enterprise_id) if alert.enterprise_id else None
    return {
        "id": alert.id,
        "rule_id": alert.rule_id,
        "rule_version": alert.rule_version,
        "rule_title": view.rule_title,
        "severity": alert.severity,
        "severity_name": view.severity_name,
        "sector": alert.sector,
        "sector_name": view.sector_name,
        "status": alert.status,
        "enterprise_id": alert.enterprise_id,
        "enterprise_name": enterprise.name if enterprise else None,
        "created_at": alert.created_at,
        "as_of": alert.as_of,
        "why": {
            "facts": [{"label": k, "text": v} for k, v in card.facts],
            "rows": [{"label": k, "text": v} for k, v in card.rules[0].rows],
        },
        "explanation": alert.explanation,
        "document": None
        if document is None
        else {
            "id": document.id,
            "number": document.number,
            "title": document.title,
            "abstract": document.abstract,
            "applicants": document.applicants,
            "ipc": document.ipc,
            "publication_date": document.publication_date,
            "application_number": document.application_number,
            "source": document.source,
            "public_record_url": public_record_url(document.number),
        },
        "record_url": view.record_url,
        "legal_events": events,
        "feedback": None
        if feedback is None
        else {
            "verdict": feedback.verdict,
            "comment": feedback.comment,
            "via": feedback.via,
            "updated_at": feedback.updated_at,
        },
    }


def is_read(session: Session, alert_id: int, user_id: int) -> bool:
    return session.get(AlertRead, (alert_id, user_id)) is not None


def mark_read(session: Session, alert_id: int, user_id: int, now: dt.datetime) -> None:
    if not is_read(session, alert_id, user_id):
        session.add(AlertRead(alert_id=alert_id, user_id=user_id, read_at=now))


def set_feedback(
    session: Session,
    alert: Alert,
    *,
    verdict: str,
    comment: str,
    via: str,
    user_id: int | None,
    actor: str,
    address: str,
    now: dt.datetime,
) -> AlertFeedback:
    """Record (or change) the verdict on an alert; the audit log keeps every change."""
    if verdict not in FEEDBACK_VERDICTS:
        raise InputError(
            [Problem(f"one of {', '.join(FEEDBACK_VERDICTS)}, not {verdict!r}", field="verdict")]
        )
    if len(comment) > MAX_COMMENT:
        raise InputError([Problem(f"at most {MAX_COMMENT} characters", field="comment")])
    row = session.scalar(select(AlertFeedback).where(AlertFeedback.alert_id == alert.id))
    if row is None:
        row = AlertFeedback(alert_id=alert.id, created_at=now, verdict=verdict, via=via)
        session.add(row)
    row.verdict, row.comment, row.via, row.user_id, row.updated_at = (
        verdict,
        comment.strip(),
        via,
        user_id,
        now,
    )
    audit(
        session,
        actor=actor,
        action="feedback.set",
        target=f"alert:{alert.id}",
        enterprise_id=alert.enterprise_id,
        detail={"verdict": verdict, "comment": comment.strip()[:200], "via": via},
        address=address,
        now=now,
    )
    return row


def precision_by_rule(session: Session) -> dict[tuple[str, int], dict[str, Any]]:
    """Per (rule, version): feedback counts and precision useful / (useful + not_relevant)."""
    rows = session.execute(
        select(Alert.rule_id, Alert.rule_version, AlertFeedback.verdict, func.count())
        .join(AlertFeedback, AlertFeedback.alert_id == Alert.id)
        .group_by(Alert.rule_id, Alert.rule_version, AlertFeedback.verdict)
    ).all()
    out: dict[tuple[str, int], dict[str, Any]] = {}
    for rule_id, version, verdict, count in rows:
        entry = out.setdefault(
            (rule_id, version), {"useful": 0, "not_relevant": 0, "known": 0, "precision": None}
        )
        entry[verdict] = entry.get(verdict, 0) + int(count)
    for entry in out.values():
        judged = entry["useful"] + entry["not_relevant"]
        entry["precision"] = round(entry["useful"] / judged, 3) if judged else None
    return out


def sector_choices() -> list[tuple[str, str]]:
    taxonomy = load_taxonomy()
    return sorted(sector_names(set(taxonomy.labels)).items())


def scope_sector_choices() -> list[tuple[str, str]]:
    """The sectors a subscription's scope may name: the taxonomy's sectors, without the
    classifier's catch-all label (which the scope's validation refuses)."""
    ids = set(load_taxonomy().sector_ids)
    return [(k, v) for k, v in sector_choices() if k in ids]

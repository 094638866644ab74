"""``/api/v1``: the JSON API (Bearer tokens from `ipwarn users token`), same rules as pages.

Every answer that is not 2xx is ``{"error": message, "status": code, "fields": [...]}``:
401 without a valid token, 403 for a role that may not, 404 for a missing object or another
tenant's, 422 naming the bad field.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query, Request
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select

from warning.digest.service import approve_digest, list_digests
from warning.store.models import Digest, Enterprise, Rule, Subscription
from warning.web.alerts import (
    SEVERITIES,
    alert_detail,
    list_alerts,
    parse_filters,
    precision_by_rule,
    set_feedback,
)
from warning.web.auth import audit
from warning.web.deps import client_address, need, now_of, settings_of, store_of
from warning.web.permissions import AccessDenied, Principal, authorize, tenant_filter
from warning.web.routers.alerts import visible_alert
from warning.web.routers.subscriptions import load_subscription, save_subscription
from warning.web.scope import subscription_data

router = APIRouter(prefix="/api/v1", tags=["api"])


class ErrorField(BaseModel):
    field: str
    message: str


class ApiError(BaseModel):
    error: str
    status: int
    fields: list[ErrorField] = []


ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": ApiError, "description": "no or invalid Bearer token"},
    403: {"model": ApiError, "description": "the caller's role may not do this"},
    404: {"model": ApiError, "description": "no such object (or another enterprise's)"},
    422: {"model": ApiError, "description": "invalid input; `fields` names each bad field"},
}

Id = Annotated[int, Path(ge=1, le=2**31 - 1)]


class AlertSummary(BaseModel):
    id: int
    rule_id: str
    rule_version: int
    rule_title: str
    severity: str
    sector: str | None
    sector_name: str
    status: str
    enterprise_id: str | None
    created_at: dt.datetime
    number: str
    title: str
    verdict: str | None
    read: bool


class AlertPage(BaseModel):
    items: list[AlertSummary]
    total: int
    page: int
    per_page: int


class Row(BaseModel):
    label: str
    text: str


class Why(BaseModel):
    facts: list[Row]
    rows: list[Row]


class DocumentOut(BaseModel):
    id: int
    number: str
    title: str
    abstract: str
    applicants: list[str]
    ipc: list[str]
    publication_date: dt.date | None
    application_number: str | None
    source: str
    public_record_url: str | None


class LegalEventOut(BaseModel):
    code: str
    category: str | None
    date: dt.date
    description: str


class FeedbackOut(BaseModel):
    verdict: str
    comment: str
    via: str
    updated_at: dt.datetime


class AlertOut(BaseModel):
    id: int
    rule_id: str
    rule_version: int
    rule_title: str
    severity: str
    severity_name: str
    sector: str | None
    sector_name: str
    status: str
    enterprise_id: str | None
    enterprise_name: str | None
    created_at: dt.datetime
    as_of: dt.date | None
    why: Why
    explanation: dict[str, Any]
    document: DocumentOut | None
    record_url: str | None
    legal_events: list[LegalEventOut]
    feedback: FeedbackOut | None


class FeedbackIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    verdict: Literal["useful", "not_relevant", "known"]
    comment: str = Field(default="", max_length=2000)


class ScopeIO(BaseModel):
    model_config = ConfigDict(extra="forbid")

    sectors: list[str] = []
    subfields: list[str] = []
    min_confidence: float = Field(default=0.5, ge=0, le=1)
    keywords: str | list[str] | None = None
    ipc: list[str] = []
    competitors: list[str] = []
    own_patents: list[str] = []
    products: list[str] = []


class SubscriptionOut(BaseModel):
    id: int
    enterprise_id: str
    enterprise_name: str
    name: str
    active: bool
    scope: ScopeIO
    frequency: str
    quiet_hours: str | None
    daily_cap: int | None
    recipients: list[str]
    updated_at: dt.datetime


class SubscriptionIn(BaseModel):
    """Fields to change; absent fields keep their value."""

    model_config = ConfigDict(extra="forbid")

    scope: ScopeIO | None = None
    frequency: Literal["immediate", "daily", "weekly"] | None = None
    quiet_hours: str | None = Field(default=None, max_length=20)
    daily_cap: int | None = Field(default=None, ge=1, le=100000)
    recipients: list[Annotated[str, Field(max_length=320)]] | None = Field(
        default=None, max_length=100
    )


class Precision(BaseModel):
    useful: int
    not_relevant: int
    known: int
    precision: float | None


class RuleOut(BaseModel):
    rule_id: str
    version: int
    title: str
    severity: str
    status: str
    source_file: str | None
    created_at: dt.datetime
    activated_at: dt.datetime | None
    feedback: Precision


class DigestOut(BaseModel):
    id: int
    week: str
    status: str
    built_at: dt.datetime
    approved_by: str | None
    approved_at: dt.datetime | None
    sent_at: dt.datetime | None
    has_data: bool


@router.get("/alerts", response_model=AlertPage, responses=ERRORS)
def api_alerts(
    request: Request,
    severity: Annotated[Literal["critical", "high", "medium", "low"] | None, Query()] = None,
    sector: Annotated[str | None, Query(max_length=40)] = None,
    rule: Annotated[str | None, Query(max_length=120)] = None,
    since: Annotated[dt.date | None, Query()] = None,
    until: Annotated[dt.date | None, Query()] = None,
    unread: bool = False,
    page: Annotated[int, Query(ge=1, le=100000)] = 1,
    per_page: Annotated[int, Query(ge=1, le=200)] = 50,
    principal: Principal = need("alerts.read"),
) -> dict[str, Any]:
    """The caller's visible alerts, newest first."""
    assert severity is None or severity in SEVERITIES
    filters = parse_filters(
        severity=severity,
        sector=sector,
        rule=rule,
        since=since.isoformat() if since else None,
        until=until.isoformat() if until else None,
        unread="1" if unread else None,
    )
    with store_of(request).read_session() as session:
        rows, total = list_alerts(
            session,
            tenant=tenant_filter(principal),
            filters=filters,
            user_id=principal.user_id,
            tz=settings_of(request).tz,
            page=page,
            per_page=per_page,
        )
    return {"items": rows, "total": total, "page": page, "per_page": per_page}


@router.get("/alerts/{alert_id}", response_model=AlertOut, responses=ERRORS)
def api_alert(
    request: Request, alert_id: Id, principal: Principal = need("alerts.read")
) -> dict[str, Any]:
    """One alert with its explanation (the why-card rows of the mail), document and events."""
    alert = visible_alert(request, principal, alert_id, "alerts.read")
    with store_of(request).read_session() as session:
        return alert_detail(session, alert, settings_of(request), now_of(request))


@router.post("/alerts/{alert_id}/feedback", response_model=FeedbackOut, responses=ERRORS)
def api_feedback(
    request: Request, alert_id: Id, body: FeedbackIn, principal: Principal = need("alerts.feedback")
) -> dict[str, Any]:
    """Record the caller's verdict on an alert (the latest verdict counts)."""
    alert = visible_alert(request, principal, alert_id, "alerts.feedback")
    with store_of(request).session() as session:
        row = set_feedback(
            session,
            alert,
            verdict=body.verdict,
            comment=body.comment,
            via="api",
            user_id=principal.user_id,
            actor=principal.email,
            address=client_address(request),
            now=now_of(request),
        )
        return {
            "verdict": row.verdict,
            "comment": row.comment,
            "via": row.via,
            "updated_at": row.updated_at,
        }


@router.get("/subscriptions", response_model=list[SubscriptionOut], responses=ERRORS)
def api_subscriptions(
    request: Request, principal: Principal = need("subscriptions.read")
) -> list[dict[str, Any]]:
    """Subscriptions the caller may see (an enterprise: its own)."""
    tenant = tenant_filter(principal)
    with store_of(request).read_session() as session:
        stmt = select(Subscription, Enterprise).join(Enterprise).order_by(Subscription.id)
        if tenant is not None:
            stmt = stmt.where(Subscription.enterprise_id == tenant)
        return [subscription_data(s, e) for s, e in session.execute(stmt).all()]


@router.get("/subscriptions/{sub_id}", response_model=SubscriptionOut, responses=ERRORS)
def api_subscription(
    request: Request, sub_id: Id, principal: Principal = need("subscriptions.read")
) -> dict[str, Any]:
    sub, ent = load_subscription(request, principal, sub_id, "subscriptions.read")
    return subscription_data(sub, ent)


@router.put("/subscriptions/{sub_id}", response_model=SubscriptionOut, responses=ERRORS)
def api_subscription_put(
    request: Request,
    sub_id: Id,
    body: SubscriptionIn,
    principal: Principal = need("subscriptions.edit"),
) -> dict[str, Any]:
    """Change scope, frequency, quiet hours, cap or recipients; validated like a YAML import."""
    sub, ent = load_subscription(request, principal, sub_id, "subscriptions.edit")
    return save_subscription(request, principal, sub, ent, body.model_dump(exclude_unset=True))


def rule_rows(request: Request) -> list[dict[str, Any]]:
    """Every stored rule version with its feedback precision (the API and the rules page)."""
    with store_of(request).read_session() as session:
        precision = precision_by_rule(session)
        rows = session.scalars(select(Rule).order_by(Rule.rule_id, Rule.version)).all()
        empty = {"useful": 0, "not_relevant": 0, "known": 0, "precision": None}
        return [
            {
                "rule_id": r.rule_id,
                "version": r.version,
                "title": r.title,
                "severity": r.severity,
                "status": r.status,
                "source_file": r.source_file,
                "created_at": r.created_at,
                "activated_at": r.activated_at,
                "feedback": precision.get((r.rule_id, r.version), empty),
            }
            for r in rows
        ]


@router.get("/rules", response_model=list[RuleOut], responses=ERRORS)
def api_rules(request: Request, principal: Principal = need("rules.read")) -> list[dict[str, Any]]:
    """Rule versions with status and precision from feedback: useful / (useful + not_relevant)."""
    return rule_rows(request)


def digest_out(row: Any) -> dict[str, Any]:
    return {
        "id": row.id,
        "week": row.week,
        "status": row.status,
        "built_at": row.built_at,
        "approved_by": row.approved_by,
        "approved_at": row.approved_at,
        "sent_at": row.sent_at,
        "has_data": bool(row.content.get("has_data")),
    }


@router.get("/digests", response_model=list[DigestOut], responses=ERRORS)
def api_digests(
    request: Request, principal: Principal = need("digests.read")
) -> list[dict[str, Any]]:
    """Recent weekly digests, newest first."""
    with store_of(request).read_session() as session:
        return [digest_out(d) for d in list_digests(session, 100)]


def approve(request: Request, principal: Principal, digest_id: int) -> dict[str, Any]:
    """Approve a draft as the caller (refused when not a draft); audited."""
    authorize(principal, "digests.approve")
    store = store_of(request)
    with store.read_session() as session:
        if session.get(Digest, digest_id) is None:
            raise AccessDenied(404, "未找到该周报 (no such digest)")
    row = approve_digest(store, digest_id, principal.email, now=now_of(request))
    with store.session() as session:
        audit(
            session,
            actor=principal.email,
            action="digest.approve",
            target=f"digest:{digest_id}",
            detail={"week": row.week},
            address=client_address(request),
            now=now_of(request),
        )
    return digest_out(row)


@router.post(
    "/digests/{digest_id}/approve",
    response_model=DigestOut,
    responses={
        **ERRORS,
        409: {"model": ApiError, "description": "not a draft (already approved or sent)"},
    },
)
def api_digest_approve(
    request: Request, digest_id: Id, principal: Principal = need("digests.approve")
) -> dict[str, Any]:
    """Approve a draft digest (bureau); approving twice is refused with 409."""
    return approve(request, principal, digest_id)

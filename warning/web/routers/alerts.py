"""Enterprise pages: the alert inbox, an alert with its why-card, feedback from the page."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import RedirectResponse, Response

from warning.store.models import Alert
from warning.web.alerts import (
    HIDDEN_STATUSES,
    SEVERITIES,
    alert_detail,
    is_read,
    list_alerts,
    mark_read,
    parse_filters,
    sector_choices,
    set_feedback,
)
from warning.web.deps import client_address, need, now_of, render, settings_of, store_of
from warning.web.permissions import AccessDenied, Principal, authorize, tenant_filter
from warning.web.routers import NavItem

router = APIRouter(include_in_schema=False)
NAV = [NavItem("预警", "/alerts", "alerts.read", 10)]
PER_PAGE = 50
FILTER_KEYS = ("severity", "sector", "rule", "since", "until", "unread", "enterprise")


def visible_alert(request: Request, principal: Principal, alert_id: int, permission: str) -> Alert:
    """The alert if the caller may see it, else 404 (another tenant's alert is not disclosed)."""
    with store_of(request).read_session() as session:
        alert = session.get(Alert, alert_id)
    if alert is None:
        raise AccessDenied(404, "未找到该预警 (no such alert)")
    authorize(principal, permission, alert.enterprise_id)
    if tenant_filter(principal) is not None and alert.status in HIDDEN_STATUSES:
        raise AccessDenied(404, "未找到该预警 (no such alert)")
    return alert


@router.get("/alerts")
async def inbox(
    request: Request,
    severity: str | None = None,
    sector: str | None = None,
    rule: str | None = None,
    since: str | None = None,
    until: str | None = None,
    unread: str | None = None,
    enterprise: str | None = None,
    page: Annotated[int, Query(ge=1, le=100000)] = 1,
    principal: Principal = need("alerts.read"),
) -> Response:
    filters = parse_filters(
        severity=severity,
        sector=sector,
        rule=rule,
        since=since,
        until=until,
        unread=unread,
        enterprise=enterprise,
    )
    settings = settings_of(request)
    with store_of(request).read_session() as session:
        rows, total = list_alerts(
            session,
            tenant=tenant_filter(principal),
            filters=filters,
            user_id=principal.user_id,
            tz=settings.tz,
            page=page,
            per_page=PER_PAGE,
        )
    query = filters.as_query()
    pages = max(1, -(-total // PER_PAGE))
    data = {
        "alerts": rows,
        "total": total,
        "page": page,
        "pages": pages,
        "filters": {k: query.get(k, "") for k in FILTER_KEYS},
        "severities": list(SEVERITIES),
        "sectors": sector_choices(),
        "prev_url": f"/alerts?{urlencode({**query, 'page': page - 1})}" if page > 1 else None,
        "next_url": f"/alerts?{urlencode({**query, 'page': page + 1})}" if page < pages else None,
        "show_enterprise": tenant_filter(principal) is None,
    }
    return render(request, "alerts/inbox.html", data)


@router.get("/alerts/{alert_id}")
async def detail(
    request: Request, alert_id: int, principal: Principal = need("alerts.read")
) -> Response:
    alert = visible_alert(request, principal, alert_id, "alerts.read")
    now = now_of(request)
    store = store_of(request)
    with store.read_session() as session:
        data = alert_detail(session, alert, settings_of(request), now)
        unread = not is_read(session, alert.id, principal.user_id)
    if unread:  # the only write of this page, once per user and alert
        with store.session() as session:
            mark_read(session, alert.id, principal.user_id, now)
    data["can_feedback"] = principal.can("alerts.feedback")
    data["saved"] = request.query_params.get("saved") == "1"
    return render(request, "alerts/detail.html", data)


@router.post("/alerts/{alert_id}/feedback")
async def feedback(
    request: Request,
    alert_id: int,
    verdict: Annotated[str, Form(max_length=20)],
    comment: Annotated[str, Form(max_length=2000)] = "",
    principal: Principal = need("alerts.feedback"),
) -> Response:
    alert = visible_alert(request, principal, alert_id, "alerts.feedback")
    with store_of(request).session() as session:
        set_feedback(
            session,
            alert,
            verdict=verdict,
            comment=comment,
            via="page",
            user_id=principal.user_id,
            actor=principal.email,
            address=client_address(request),
            now=now_of(request),
        )
    return RedirectResponse(f"/alerts/{alert_id}?saved=1", status_code=303)

"""An enterprise's own subscriptions: scope, frequency, quiet hours, cap, recipients; silences."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import select

from warning.delivery.cli import parse_until
from warning.errors import InputError, Problem
from warning.store.models import Enterprise, Rule, Silence, Subscription
from warning.web.alerts import scope_sector_choices
from warning.web.auth import audit
from warning.web.deps import client_address, need, now_of, render, settings_of, store_of
from warning.web.permissions import AccessDenied, Principal, authorize, tenant_filter
from warning.web.routers import NavItem
from warning.web.scope import split_lines, subscription_data, update_subscription

router = APIRouter(include_in_schema=False)
NAV = [
    NavItem("订阅", "/subscriptions", "subscriptions.read", 20),
    NavItem("屏蔽", "/silences", "silences.edit", 25),
]
FREQUENCIES = [("immediate", "即时"), ("daily", "每日汇总"), ("weekly", "每周汇总")]


def load_subscription(
    request: Request, principal: Principal, sub_id: int, permission: str
) -> tuple[Subscription, Enterprise]:
    with store_of(request).read_session() as session:
        sub = session.get(Subscription, sub_id)
        ent = session.get(Enterprise, sub.enterprise_id) if sub else None
    if sub is None or ent is None:
        raise AccessDenied(404, "未找到该订阅 (no such subscription)")
    authorize(principal, permission, sub.enterprise_id)
    return sub, ent


def save_subscription(
    request: Request,
    principal: Principal,
    sub: Subscription,
    ent: Enterprise,
    changes: dict[str, object],
) -> dict[str, object]:
    """Apply validated changes as the caller (page and API); the stored state afterwards."""
    with store_of(request).session() as session:
        row = session.get(Subscription, sub.id)
        ent_row = session.get(Enterprise, ent.id)
        assert row is not None and ent_row is not None
        update_subscription(
            session,
            row,
            ent_row,
            changes,
            actor=principal.email,
            address=client_address(request),
            now=now_of(request),
        )
        session.flush()
        return subscription_data(row, ent_row)


@router.get("/subscriptions")
async def subscriptions(
    request: Request, principal: Principal = need("subscriptions.read")
) -> Response:
    tenant = tenant_filter(principal)
    with store_of(request).read_session() as session:
        stmt = (
            select(Subscription, Enterprise)
            .join(Enterprise)
            .order_by(Enterprise.id, Subscription.name)
        )
        if tenant is not None:
            stmt = stmt.where(Subscription.enterprise_id == tenant)
        rows = [subscription_data(s, e) for s, e in session.execute(stmt).all()]
    return render(request, "subscriptions/list.html", {"subscriptions": rows})


def _form_page(
    request: Request, data: dict[str, object], problems: list[Problem], status: int = 200
) -> Response:
    page = {
        "subscription": data,
        "problems": [{"field": p.field or "", "message": p.message} for p in problems],
        "sectors": scope_sector_choices(),
        "frequencies": FREQUENCIES,
        "saved": request.query_params.get("saved") == "1",
    }
    return render(request, "subscriptions/edit.html", page, status_code=status)


@router.get("/subscriptions/{sub_id}")
async def subscription(
    request: Request, sub_id: int, principal: Principal = need("subscriptions.read")
) -> Response:
    sub, ent = load_subscription(request, principal, sub_id, "subscriptions.read")
    return _form_page(request, subscription_data(sub, ent), [])


@router.post("/subscriptions/{sub_id}")
async def subscription_save(
    request: Request,
    sub_id: int,
    sectors: Annotated[list[str], Form()] = [],  # noqa: B006 - FastAPI copies defaults
    subfields: Annotated[str, Form(max_length=5000)] = "",
    keywords: Annotated[str, Form(max_length=5000)] = "",
    ipc: Annotated[str, Form(max_length=5000)] = "",
    competitors: Annotated[str, Form(max_length=20000)] = "",
    own_patents: Annotated[str, Form(max_length=20000)] = "",
    products: Annotated[str, Form(max_length=20000)] = "",
    frequency: Annotated[str, Form(max_length=20)] = "immediate",
    quiet_hours: Annotated[str, Form(max_length=20)] = "",
    daily_cap: Annotated[str, Form(max_length=10)] = "",
    recipients: Annotated[str, Form(max_length=20000)] = "",
    principal: Principal = need("subscriptions.edit"),
) -> Response:
    sub, ent = load_subscription(request, principal, sub_id, "subscriptions.edit")
    changes: dict[str, object] = {
        "scope": {
            "sectors": sectors,
            "subfields": split_lines(subfields),
            "keywords": keywords.strip() or None,
            "ipc": split_lines(ipc),
            "competitors": split_lines(competitors, commas=False),
            "own_patents": split_lines(own_patents),
            "products": split_lines(products, commas=False),
        },
        "frequency": frequency,
        "quiet_hours": quiet_hours.strip() or None,
        "daily_cap": daily_cap.strip() or None,
        "recipients": split_lines(recipients),
    }
    try:
        save_subscription(request, principal, sub, ent, changes)
    except InputError as exc:
        shown = subscription_data(sub, ent)
        shown["scope"] = {**shown["scope"], **changes["scope"]}  # type: ignore[dict-item]
        shown.update(
            {k: changes[k] for k in ("frequency", "quiet_hours", "daily_cap", "recipients")}
        )
        return _form_page(request, shown, exc.problems, status=422)
    return RedirectResponse(f"/subscriptions/{sub_id}?saved=1", status_code=303)


# --- silences -------------------------------------------------------------------------------


def _silence_rows(request: Request, principal: Principal) -> list[dict[str, object]]:
    tenant = tenant_filter(principal)
    now = now_of(request)
    with store_of(request).read_session() as session:
        stmt = select(Silence).where(Silence.until > now).order_by(Silence.until)
        if tenant is not None:
            stmt = stmt.where(Silence.enterprise_id == tenant)
        return [
            {
                "id": s.id,
                "kind": s.kind,
                "target": s.target,
                "enterprise_id": s.enterprise_id,
                "until": s.until,
                "reason": s.reason,
                "created_by": s.created_by,
            }
            for s in session.scalars(stmt)
        ]


@router.get("/silences")
async def silences(request: Request, principal: Principal = need("silences.edit")) -> Response:
    with store_of(request).read_session() as session:
        rules = [
            {"rule_id": r, "title": t}
            for r, t in session.execute(
                select(Rule.rule_id, Rule.title)
                .where(Rule.status == "active")
                .order_by(Rule.rule_id)
            ).all()
        ]
    data = {
        "silences": _silence_rows(request, principal),
        "rules": rules,
        "needs_enterprise": tenant_filter(principal) is None,
        "problems": [],
    }
    return render(request, "subscriptions/silences.html", data)


@router.post("/silences")
async def silence_add(
    request: Request,
    kind: Annotated[str, Form(max_length=10)],
    target: Annotated[str, Form(max_length=300)],
    until: Annotated[str, Form(max_length=30)],
    reason: Annotated[str, Form(max_length=500)] = "",
    enterprise: Annotated[str, Form(max_length=80)] = "",
    principal: Principal = need("silences.edit"),
) -> Response:
    now = now_of(request)
    settings = settings_of(request)
    scope = tenant_filter(principal) or enterprise.strip() or None
    problems = []
    if kind not in ("rule", "family"):
        problems.append(Problem("rule 或 family (rule or family)", field="kind"))
    if not target.strip():
        problems.append(Problem("请填写规则编号或专利号 (required)", field="target"))
    if scope is None:
        problems.append(Problem("请填写企业编号 (required)", field="enterprise"))
    until_at: dt.datetime | None = None
    if not problems:
        try:
            until_at = parse_until(until.strip(), None, now, settings.tz)
        except InputError as exc:
            problems.extend(Problem(p.message, field="until") for p in exc.problems)
    if problems:
        raise InputError(problems, hint="Nothing was changed.")
    assert until_at is not None and scope is not None
    authorize(principal, "silences.edit", scope)
    with store_of(request).session() as session:
        if session.get(Enterprise, scope) is None:
            raise InputError([Problem(f"unknown enterprise {scope!r}", field="enterprise")])
        row = Silence(
            kind=kind,
            target=target.strip(),
            enterprise_id=scope,
            until=until_at,
            reason=reason.strip(),
            created_by=principal.email,
            created_at=now,
        )
        session.add(row)
        session.flush()
        audit(
            session,
            actor=principal.email,
            action="silence.add",
            target=f"{kind}:{target.strip()}",
            enterprise_id=scope,
            detail={"until": until_at.isoformat(), "id": row.id},
            address=client_address(request),
            now=now,
        )
    return RedirectResponse("/silences", status_code=303)


@router.post("/silences/{silence_id}/remove")
async def silence_remove(
    request: Request, silence_id: int, principal: Principal = need("silences.edit")
) -> Response:
    now = now_of(request)
    with store_of(request).session() as session:
        row = session.get(Silence, silence_id)
        if row is None:
            raise AccessDenied(404, "未找到该屏蔽 (no such silence)")
        authorize(principal, "silences.edit", row.enterprise_id)
        audit(
            session,
            actor=principal.email,
            action="silence.remove",
            target=f"{row.kind}:{row.target}",
            enterprise_id=row.enterprise_id,
            detail={"id": row.id},
            address=client_address(request),
            now=now,
        )
        session.delete(row)
    return RedirectResponse("/silences", status_code=303)

"""Bureau pages: dashboard, enterprises and their users, the weekly digest, the audit log."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError
from sqlalchemy import func, select

from rules.repository import add_subscription, resubscribe, unsubscribe, watches
from rules.spec import EnterpriseSpec
from warning.cli_core import status_data
from warning.digest.render import fmt_value
from warning.digest.service import list_digests, send_digest
from warning.errors import InputError, Problem
from warning.store.models import Alert, AuditEntry, Digest, Enterprise, Subscription, User
from warning.web.alerts import SEVERITIES, scope_sector_choices, sector_choices
from warning.web.auth import audit
from warning.web.deps import client_address, need, now_of, render, settings_of, store_of
from warning.web.permissions import ROLES, AccessDenied, Principal
from warning.web.routers import NavItem
from warning.web.routers.api import approve, digest_out
from warning.web.routers.subscriptions import FREQUENCIES
from warning.web.scope import split_lines, validation_problems
from warning.web.users import add_user, list_users, set_active

router = APIRouter(include_in_schema=False)
NAV = [
    NavItem("总览", "/dashboard", "dashboard.read", 5),
    NavItem("企业与用户", "/enterprises", "enterprises.manage", 30),
    NavItem("周报", "/digests", "digests.read", 40),
    NavItem("审计日志", "/audit", "audit.read", 90),
]
#: the digest as it will be mailed: its own inline styles and data: images, nothing else
DIGEST_CSP = (
    "sandbox; default-src 'none'; style-src 'unsafe-inline'; img-src data:; frame-ancestors 'self'"
)


@router.get("/dashboard")
async def dashboard(request: Request, principal: Principal = need("dashboard.read")) -> Response:
    now = now_of(request)
    status = status_data(request.app.state.ipwarn, now, limit=15)
    week_ago = now - dt.timedelta(days=7)
    with store_of(request).read_session() as session:
        counts = session.execute(
            select(Alert.sector, Alert.severity, func.count())
            .where(Alert.created_at >= week_ago)
            .group_by(Alert.sector, Alert.severity)
        ).all()
    names = dict(sector_choices())
    table: dict[str, dict[str, int]] = {}
    for sector, severity, count in counts:
        row = table.setdefault(sector or "", {s: 0 for s in SEVERITIES})
        row[severity] = row.get(severity, 0) + int(count)
    alerts_week = [
        {"sector": s, "sector_name": names.get(s, s or "—"), **row, "total": sum(row.values())}
        for s, row in sorted(table.items())
    ]
    data = {**status, "alerts_week": alerts_week, "severities": list(SEVERITIES)}
    return render(request, "bureau/dashboard.html", data)


# --- enterprises and users --------------------------------------------------------------------


def _state(subs: list[Subscription]) -> str:
    """``active`` (some subscription live), ``blank`` (none yet watches anything: it goes live
    with its first scope) or ``inactive`` (deactivated, or removed: nothing left to send)."""
    if any(s.active for s in subs):
        return "active"
    if subs and not any(watches(s.scope) for s in subs):
        return "blank"
    return "inactive"


def _enterprises_data(
    request: Request, created: dict[str, Any] | None = None, changed: str | None = None
) -> dict[str, Any]:
    with store_of(request).read_session() as session:
        subs: dict[str, list[Subscription]] = {}
        for sub in session.scalars(select(Subscription).order_by(Subscription.id)):
            subs.setdefault(sub.enterprise_id, []).append(sub)
        enterprises = [
            {
                "id": e.id,
                "name": e.name,
                "recipients": list(e.recipients),
                "subscriptions": len(subs.get(e.id, [])),
                "active_subscriptions": sum(s.active for s in subs.get(e.id, [])),
                "state": _state(subs.get(e.id, [])),
            }
            for e in session.scalars(select(Enterprise).order_by(Enterprise.id))
        ]
        users = [
            {
                "email": u.email,
                "role": u.role,
                "enterprise_id": u.enterprise_id,
                "active": u.active,
                "last_login_at": u.last_login_at,
            }
            for u in list_users(session)
        ]
    return {
        "enterprises": enterprises,
        "users": users,
        "roles": list(ROLES),
        "sector_choices": scope_sector_choices(),
        "frequencies": FREQUENCIES,
        "created": created,
        "changed": changed,
    }


@router.get("/enterprises")
async def enterprises(
    request: Request, principal: Principal = need("enterprises.manage")
) -> Response:
    return render(request, "bureau/enterprises.html", _enterprises_data(request))


@router.post("/enterprises")
async def enterprise_add(
    request: Request,
    enterprise_id: Annotated[str, Form(max_length=80)],
    name: Annotated[str, Form(max_length=300)],
    recipients: Annotated[str, Form(max_length=5000)] = "",
    principal: Principal = need("enterprises.manage"),
) -> Response:
    values = {
        "id": enterprise_id.strip(),
        "name": name.strip(),
        "recipients": split_lines(recipients),
        # nothing to watch yet: the subscription stays off until the enterprise saves a scope
        "subscriptions": [{"active": False}],
    }
    try:
        spec = EnterpriseSpec.model_validate(values)
    except ValidationError as exc:
        raise InputError(validation_problems(exc), hint="Nothing was created.") from exc
    now = now_of(request)
    with store_of(request).session() as session:
        if session.get(Enterprise, spec.id) is not None:
            raise InputError([Problem(f"enterprise {spec.id!r} already exists", field="id")])
        session.add(
            Enterprise(
                id=spec.id,
                name=spec.name,
                recipients=spec.recipients,
                created_at=now,
                updated_at=now,
            )
        )
        session.flush()
        session.add(
            Subscription(
                enterprise_id=spec.id,
                name="default",
                scope={},
                active=False,
                created_at=now,
                updated_at=now,
            )
        )
        audit(
            session,
            actor=principal.email,
            action="enterprise.add",
            target=spec.id,
            enterprise_id=spec.id,
            detail={"name": spec.name},
            address=client_address(request),
            now=now,
        )
    return RedirectResponse("/enterprises", status_code=303)


@router.post("/enterprises/{enterprise_id}/active")
async def enterprise_active(
    request: Request,
    enterprise_id: str,
    active: Annotated[str, Form(max_length=5)],
    principal: Principal = need("enterprises.manage"),
) -> Response:
    """Deactivate (``active=0``) or reactivate (``1``) an enterprise's alerts.

    The service of `ipwarn subscriptions unsubscribe|resubscribe`: deactivating also cancels
    its queued mail. Its users keep their accounts (the users table disables them).
    """
    if active not in ("0", "1"):
        raise InputError([Problem(f"0 or 1, not {active!r}", field="active")])
    now = now_of(request)
    with store_of(request).session() as session:
        if session.get(Enterprise, enterprise_id) is None:
            raise AccessDenied(404, "未找到该企业 (no such enterprise)")
        detail: dict[str, Any]
        if active == "0":
            off = unsubscribe(session, enterprise_id, now)
            action = "enterprise.deactivate"
            detail = {"deactivated": off.deactivated, "queued_cancelled": off.queued_cancelled}
            changed = (
                f"已停用 {enterprise_id}：{len(off.deactivated)} 个订阅停用，"
                f"取消 {off.queued_cancelled} 封待发邮件"
            )
        else:
            on = resubscribe(session, enterprise_id, now)
            action = "enterprise.reactivate"
            detail = {"reactivated": on.reactivated, "blank": on.blank}
            changed = f"已重新启用 {enterprise_id}：{len(on.reactivated)} 个订阅恢复预警" + (
                f"；{len(on.blank)} 个尚无订阅范围，保存范围后生效" if on.blank else ""
            )
        audit(
            session,
            actor=principal.email,
            action=action,
            target=enterprise_id,
            enterprise_id=enterprise_id,
            detail=detail,
            address=client_address(request),
            now=now,
        )
    return render(request, "bureau/enterprises.html", _enterprises_data(request, changed=changed))


@router.post("/enterprises/{enterprise_id}/subscriptions")
async def subscription_add(
    request: Request,
    enterprise_id: str,
    # the import's own check says what is wrong with a missing or empty name
    name: Annotated[str, Form(max_length=120)] = "",
    frequency: Annotated[str, Form(max_length=20)] = "immediate",
    sectors: Annotated[list[str], Form()] = [],  # noqa: B006 - FastAPI copies defaults
    keywords: Annotated[str, Form(max_length=5000)] = "",
    ipc: Annotated[str, Form(max_length=5000)] = "",
    principal: Principal = need("enterprises.manage"),
) -> Response:
    """Add a subscription to an existing enterprise (bureau and admin only).

    The service of `ipwarn subscriptions import` (``rules.repository.add_subscription``), with
    its validation and messages. With sectors, keywords or IPC prefixes it is live at once;
    without, it waits (inactive) for a scope saved on its own page, like a console enterprise's
    first subscription. Answers with that page.
    """
    scope = {"sectors": sectors, "keywords": keywords.strip() or None, "ipc": split_lines(ipc)}
    scope = {k: v for k, v in scope.items() if v}
    new = {"name": name.strip(), "frequency": frequency, "scope": scope, "active": bool(scope)}
    now = now_of(request)
    with store_of(request).session() as session:
        try:
            sub, _ = add_subscription(session, enterprise_id, new, now)
        except LookupError as exc:
            raise AccessDenied(404, "未找到该企业 (no such enterprise)") from exc
        except ValidationError as exc:
            raise InputError(validation_problems(exc), hint="Nothing was created.") from exc
        audit(
            session,
            actor=principal.email,
            action="subscription.add",
            target=f"subscription:{sub.id}",
            enterprise_id=enterprise_id,
            detail={"name": sub.name, "scope": sub.scope, "active": sub.active},
            address=client_address(request),
            now=now,
        )
        sub_id = sub.id
    return RedirectResponse(f"/subscriptions/{sub_id}", status_code=303)


@router.post("/users")
async def user_add(
    request: Request,
    email: Annotated[str, Form(max_length=320)],
    role: Annotated[str, Form(max_length=16)],
    enterprise_id: Annotated[str, Form(max_length=80)] = "",
    principal: Principal = need("users.manage"),
) -> Response:
    """Invite a user: the account is created with a generated password shown once here."""
    if role == "admin" and principal.role != "admin":
        raise AccessDenied(403, "只有管理员可以创建管理员 (only admins create admins)")
    with store_of(request).session() as session:
        created = add_user(
            session,
            email=email,
            role=role,
            enterprise_id=enterprise_id.strip() or None,
            password=None,
            actor=principal.email,
            now=now_of(request),
        )
        shown = {"email": created.user.email, "role": role, "password": created.generated_password}
    return render(request, "bureau/enterprises.html", _enterprises_data(request, shown))


@router.post("/users/{email}/active")
async def user_active(
    request: Request,
    email: str,
    active: Annotated[str, Form(max_length=5)],
    principal: Principal = need("users.manage"),
) -> Response:
    with store_of(request).session() as session:
        target = session.scalar(select(User).where(User.email == email.strip().lower()))
        if target is None:
            raise AccessDenied(404, "未找到该用户 (no such user)")
        if target.role == "admin" and principal.role != "admin":
            raise AccessDenied(403, "只有管理员可以停用管理员 (only admins change admins)")
        if target.id == principal.user_id:
            raise InputError(
                [Problem("不能停用自己的账号 (you cannot disable yourself)", field="email")]
            )
        set_active(session, email, active == "1", actor=principal.email, now=now_of(request))
    return RedirectResponse("/enterprises", status_code=303)


# --- digests --------------------------------------------------------------------------------


@router.get("/digests")
async def digests(request: Request, principal: Principal = need("digests.read")) -> Response:
    with store_of(request).read_session() as session:
        rows = [
            {
                **digest_out(d),
                "levels": [
                    {"name": s["name_zh"], "level": s["level_zh"]}
                    for s in d.content.get("sectors", [])
                ]
                if d.content.get("has_data")
                else [],
            }
            for d in list_digests(session, 100)
        ]
    return render(request, "bureau/digests.html", {"digests": rows})


def _digest(request: Request, digest_id: int) -> Digest:
    with store_of(request).read_session() as session:
        row = session.get(Digest, digest_id)
    if row is None:
        raise AccessDenied(404, "未找到该周报 (no such digest)")
    return row


@router.get("/digests/{digest_id}")
async def digest_page(
    request: Request, digest_id: int, principal: Principal = need("digests.read")
) -> Response:
    row = _digest(request, digest_id)
    content = row.content
    sectors = []
    for s in content.get("sectors", []) if content.get("has_data") else []:
        sectors.append(
            {
                "id": s["id"],
                "name": s["name_zh"],
                "level": s["level_zh"],
                "drivers": [
                    {
                        "label": d["label"],
                        "level": d["level_zh"],
                        "value": fmt_value(d["value"], d["unit"]),
                        "threshold": fmt_value(d["threshold"], d["unit"]),
                    }
                    for d in s.get("drivers", [])
                ],
            }
        )
    data = {
        "digest": digest_out(row),
        "input_hash": row.input_hash,
        "start": content.get("start"),
        "end": content.get("end"),
        "sectors": sectors,
        "has_html": bool(row.html_path and Path(row.html_path).is_file()),
        "bureau_recipients": list(settings_of(request).bureau_recipients),
        "can_approve": principal.can("digests.approve"),
        "message": request.query_params.get("msg", ""),
    }
    return render(request, "bureau/digest.html", data)


@router.get("/digests/{digest_id}/html")
async def digest_html(
    request: Request, digest_id: int, principal: Principal = need("digests.read")
) -> Response:
    """The digest's HTML exactly as it is mailed, sandboxed (no script, no same-origin)."""
    row = _digest(request, digest_id)
    if not row.html_path or not Path(row.html_path).is_file():
        raise AccessDenied(
            404, "周报文件不存在，请重新生成 (digest file missing; build the week again)"
        )
    return Response(
        Path(row.html_path).read_bytes(),
        media_type="text/html; charset=utf-8",
        headers={"Content-Security-Policy": DIGEST_CSP},
    )


@router.post("/digests/{digest_id}/approve")
async def digest_approve(
    request: Request, digest_id: int, principal: Principal = need("digests.approve")
) -> Response:
    _digest(request, digest_id)
    approve(request, principal, digest_id)
    return RedirectResponse(f"/digests/{digest_id}?msg=approved", status_code=303)


@router.post("/digests/{digest_id}/send")
async def digest_send(
    request: Request, digest_id: int, principal: Principal = need("digests.approve")
) -> Response:
    _digest(request, digest_id)
    created = send_digest(store_of(request), settings_of(request), digest_id, now=now_of(request))
    with store_of(request).session() as session:
        audit(
            session,
            actor=principal.email,
            action="digest.send",
            target=f"digest:{digest_id}",
            detail={"queued": created},
            address=client_address(request),
            now=now_of(request),
        )
    return RedirectResponse(f"/digests/{digest_id}?msg=sent", status_code=303)


# --- audit log ------------------------------------------------------------------------------


@router.get("/audit")
async def audit_log(
    request: Request,
    action: Annotated[str | None, Query(max_length=60)] = None,
    page: Annotated[int, Query(ge=1, le=100000)] = 1,
    principal: Principal = need("audit.read"),
) -> Response:
    per_page = 100
    with store_of(request).read_session() as session:
        stmt = select(AuditEntry).order_by(AuditEntry.id.desc())
        if action:
            stmt = stmt.where(AuditEntry.action == action)
        rows = [
            {
                "at": e.at,
                "actor": e.actor,
                "action": e.action,
                "target": e.target,
                "enterprise_id": e.enterprise_id,
                "detail": e.detail,
                "address": e.address,
            }
            for e in session.scalars(stmt.limit(per_page).offset((page - 1) * per_page))
        ]
    return render(
        request, "bureau/audit.html", {"entries": rows, "action": action or "", "page": page}
    )

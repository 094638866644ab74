"""Pages behind the signed links in alert mails: mute a rule, give feedback. No login.

A GET only shows what the link would do and asks to confirm (mail scanners fetch links; a GET
must not change anything). The confirming POST, and the RFC 8058 one-click POST a mail client
sends for ``List-Unsubscribe`` (body ``List-Unsubscribe=One-Click``), act. The link's HMAC is
the authority: a forged, altered or expired link is refused with 403 and says why.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response
from sqlalchemy import select

from warning.delivery.links import (
    ACTION_MUTE,
    FEEDBACK_VERDICTS,
    LinkClaims,
    LinkTokenError,
    feedback_subject,
    verify_link_query,
)
from warning.store.models import Alert, Enterprise, Rule, Silence
from warning.web.alerts import set_feedback
from warning.web.auth import audit
from warning.web.deps import client_address, now_of, public, render, settings_of, store_of
from warning.web.permissions import AccessDenied, Principal

router = APIRouter(include_in_schema=False)
LINK_FIELDS = ("enterprise", "rule", "action", "expires", "token")
REASONS_ZH = {
    "malformed": "链接不完整",
    "forged": "链接签名无效（可能被改动过）",
    "expired": "链接已过期，请联系知识产权局",
}


async def _claims(request: Request) -> tuple[LinkClaims, dict[str, str]]:
    """The verified claims from the query string or, for a POST, the form (either works)."""
    query = {k: request.query_params.get(k, "") for k in LINK_FIELDS}
    if request.method == "POST" and not query["token"]:
        form = await request.form()
        query = {k: str(form.get(k) or "") for k in LINK_FIELDS}
    settings = settings_of(request)
    if settings.link_secret is None:
        raise AccessDenied(403, "此服务未配置链接密钥 (link_secret is not set)")
    try:
        claims = verify_link_query(
            settings.link_secret.get_secret_value(), query, now=now_of(request)
        )
    except LinkTokenError as exc:
        raise AccessDenied(403, f"{REASONS_ZH.get(exc.reason, '链接无效')} ({exc})") from exc
    return claims, query


def _mute(request: Request, claims: LinkClaims) -> dict[str, object]:
    """Silence the rule for the enterprise until the link's own expiry (90 days)."""
    now = now_of(request)
    with store_of(request).session() as session:
        existing = session.scalar(
            select(Silence).where(
                Silence.kind == "rule",
                Silence.target == claims.rule,
                Silence.enterprise_id == claims.enterprise,
                Silence.until > now,
            )
        )
        until = max(claims.expires_at, now + dt.timedelta(days=1))
        if existing is None:
            session.add(
                Silence(
                    kind="rule",
                    target=claims.rule,
                    enterprise_id=claims.enterprise,
                    until=until,
                    reason="邮件中的退订链接",
                    created_by=f"link:{claims.enterprise}",
                    created_at=now,
                )
            )
            audit(
                session,
                actor=f"link:{claims.enterprise}",
                action="silence.add",
                target=f"rule:{claims.rule}",
                enterprise_id=claims.enterprise,
                detail={"until": until.isoformat(), "via": "mute-link"},
                address=client_address(request),
                now=now,
            )
    return {"done": True, "until": until}


def _rule_title(request: Request, rule_id: str) -> str:
    with store_of(request).read_session() as session:
        title = session.scalar(
            select(Rule.title).where(Rule.rule_id == rule_id).order_by(Rule.version.desc())
        )
    return title or rule_id


def _mute_data(
    request: Request, claims: LinkClaims, query: dict[str, str], result: dict[str, object]
) -> dict[str, object]:
    return {
        "kind": "mute",
        "rule_id": claims.rule,
        "rule_title": _rule_title(request, claims.rule),
        "enterprise": claims.enterprise,
        "link": query,
        **result,
    }


@router.get("/mute")
async def mute_page(request: Request, _: Principal | None = public("signed-link")) -> Response:
    claims, query = await _claims(request)
    if claims.action != ACTION_MUTE:
        raise AccessDenied(403, "链接用途不符 (not a mute link)")
    return render(request, "links/mute.html", _mute_data(request, claims, query, {"done": False}))


@router.post("/mute")
async def mute_confirm(request: Request, _: Principal | None = public("signed-link")) -> Response:
    claims, query = await _claims(request)
    if claims.action != ACTION_MUTE:
        raise AccessDenied(403, "链接用途不符 (not a mute link)")
    result = _mute(request, claims)
    return render(request, "links/mute.html", _mute_data(request, claims, query, result))


def _feedback_alert(request: Request, claims: LinkClaims) -> tuple[Alert, str]:
    verdict = claims.action.removeprefix("feedback:")
    if not claims.action.startswith("feedback:") or verdict not in FEEDBACK_VERDICTS:
        raise AccessDenied(403, "链接用途不符 (not a feedback link)")
    with store_of(request).read_session() as session:
        alert_id = claims.rule.removeprefix("alert:")
        alert = session.get(Alert, int(alert_id)) if alert_id.isdigit() else None
    if alert is None or feedback_subject(alert.id) != claims.rule:
        raise AccessDenied(404, "未找到该预警 (no such alert)")
    if alert.enterprise_id != claims.enterprise:
        raise AccessDenied(403, "链接与预警不符 (link does not match the alert)")
    return alert, verdict


def _feedback_data(
    request: Request, alert: Alert, verdict: str, query: dict[str, str]
) -> dict[str, object]:
    with store_of(request).read_session() as session:
        ent = session.get(Enterprise, alert.enterprise_id) if alert.enterprise_id else None
    exp = alert.explanation if isinstance(alert.explanation, dict) else {}
    return {
        "kind": "feedback",
        "alert_id": alert.id,
        "title": str(exp.get("title") or ""),
        "number": str(exp.get("number") or ""),
        "rule_title": str(exp.get("rule_title") or alert.rule_id),
        "enterprise_name": ent.name if ent else "",
        "verdict": verdict,
        "link": query,
        "done": False,
    }


@router.get("/feedback")
async def feedback_page(request: Request, _: Principal | None = public("signed-link")) -> Response:
    claims, query = await _claims(request)
    alert, verdict = _feedback_alert(request, claims)
    return render(request, "links/feedback.html", _feedback_data(request, alert, verdict, query))


@router.post("/feedback")
async def feedback_confirm(
    request: Request,
    comment: Annotated[str, Form(max_length=2000)] = "",
    _: Principal | None = public("signed-link"),
) -> Response:
    claims, query = await _claims(request)
    alert, verdict = _feedback_alert(request, claims)
    with store_of(request).session() as session:
        row = session.get(Alert, alert.id)
        assert row is not None
        set_feedback(
            session,
            row,
            verdict=verdict,
            comment=comment,
            via="link",
            user_id=None,
            actor=f"link:{claims.enterprise}",
            address=client_address(request),
            now=now_of(request),
        )
    data = _feedback_data(request, alert, verdict, query)
    data["done"] = True
    return render(request, "links/feedback.html", data)

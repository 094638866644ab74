"""Request-scoped helpers: the store and settings, the caller, CSRF, and page rendering.

Conventions (docs/console.md, "Adding pages"):

* a route depends on ``need("permission")``; that authenticates (session cookie for pages,
  ``Authorization: Bearer`` for ``/api/``), checks the role through
  :func:`~warning.web.permissions.authorize` and, for a browser session, the CSRF token of
  every state-changing request;
* a page builds one JSON-ready ``data`` dict and returns ``render(request, template, data)``:
  the same URL with ``.json`` appended answers that dict as JSON (the page's JSON twin).
"""

from __future__ import annotations

import datetime as dt
import hmac
from collections.abc import Callable
from typing import Any

from fastapi import Depends, Request
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from warning.app import App
from warning.config import Settings
from warning.store.engine import Store
from warning.store.models import utcnow
from warning.web.auth import session_principal, token_principal
from warning.web.permissions import AccessDenied, Principal, authorize

SESSION_COOKIE = "ipwarn_session"
#: double-submit cookie protecting the forms of visitors not logged in (the login form)
ANON_CSRF_COOKIE = "ipwarn_csrf"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

bearer = HTTPBearer(auto_error=False, description="A token from `ipwarn users token EMAIL`.")


def ipwarn(request: Request) -> App:
    app: App = request.app.state.ipwarn
    return app


def store_of(request: Request) -> Store:
    return ipwarn(request).store


def settings_of(request: Request) -> Settings:
    return ipwarn(request).settings


def now_of(request: Request) -> dt.datetime:
    """The request's clock (tests may pin ``app.state.clock``)."""
    clock: Callable[[], dt.datetime] = getattr(request.app.state, "clock", utcnow)
    return clock()


def client_address(request: Request) -> str:
    return request.client.host if request.client else ""


def is_api(request: Request) -> bool:
    return request.url.path.startswith("/api/")


def wants_json(request: Request) -> bool:
    """True for the API and for a page's ``.json`` twin."""
    return is_api(request) or bool(request.scope.get("ipwarn_json"))


def current_principal(
    request: Request, credentials: HTTPAuthorizationCredentials | None
) -> Principal | None:
    if "ipwarn_principal" in request.scope:
        cached: Principal | None = request.scope["ipwarn_principal"]
        return cached
    now = now_of(request)
    principal: Principal | None
    if is_api(request):
        raw = (
            credentials.credentials
            if credentials and credentials.scheme.lower() == "bearer"
            else ""
        )
        principal = token_principal(store_of(request), raw, now)
    else:
        cookie = request.cookies.get(SESSION_COOKIE, "")
        principal = session_principal(store_of(request), settings_of(request), cookie, now)
    request.scope["ipwarn_principal"] = principal
    return principal


async def submitted_csrf(request: Request) -> str:
    header = request.headers.get(CSRF_HEADER)
    if header:
        return header
    ctype = request.headers.get("content-type", "")
    if ctype.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
        form = await request.form()
        value = form.get(CSRF_FIELD)
        return value if isinstance(value, str) else ""
    return ""


def _same(a: str, b: str) -> bool:
    return bool(a) and bool(b) and hmac.compare_digest(a.encode(), b.encode())


async def check_csrf(request: Request, principal: Principal | None) -> None:
    """Refuse a state-changing browser request whose CSRF token is missing or wrong (403)."""
    if request.method in SAFE_METHODS or is_api(request):
        return  # the API takes Bearer tokens only: no ambient credential to forge with
    expected = principal.csrf_token if principal else request.cookies.get(ANON_CSRF_COOKIE, "")
    if not _same(await submitted_csrf(request), expected):
        raise AccessDenied(
            403, "表单已过期或来源不明，请刷新页面后重试 (CSRF token missing or wrong)"
        )


def need(permission: str) -> Any:
    """The dependency of a route that requires ``permission``; it yields the caller."""

    async def dependency(
        request: Request, credentials: HTTPAuthorizationCredentials | None = Depends(bearer)
    ) -> Principal:
        principal = authorize(current_principal(request, credentials), permission)
        await check_csrf(request, principal)
        return principal

    dependency.permission = permission  # type: ignore[attr-defined]
    return Depends(dependency)


def public(reason: str) -> Any:
    """The dependency of a route anyone may call (login, health, signed mail links).

    State-changing requests still need the anonymous CSRF cookie unless ``reason`` is
    ``"signed-link"`` (the link's HMAC is the authority) or ``"probe"``.
    """

    async def dependency(request: Request) -> Principal | None:
        # no Bearer scheme here: a public route is documented (OpenAPI) as needing no auth
        principal = current_principal(request, None)
        if reason not in ("signed-link", "probe"):
            await check_csrf(request, principal)
        return principal

    dependency.public = reason  # type: ignore[attr-defined]
    return Depends(dependency)


def render(
    request: Request,
    template: str,
    data: dict[str, Any],
    *,
    status_code: int = 200,
    principal: Principal | None = None,
) -> Response:
    """The page, or its JSON twin (``data`` as JSON) when the URL ended in ``.json``."""
    if wants_json(request):
        return JSONResponse(jsonable_encoder(data), status_code=status_code)
    templates = request.app.state.templates
    who = principal or request.scope.get("ipwarn_principal")
    context = {
        **data,
        "principal": who,
        "csrf_token": who.csrf_token if who else request.scope.get("ipwarn_anon_csrf", ""),
        "nav": [n for n in request.app.state.nav if who and who.can(n.permission)],
        "json_url": request.url.path
        + ".json"
        + (f"?{request.url.query}" if request.url.query else ""),
    }
    response: Response = templates.TemplateResponse(
        request, template, context, status_code=status_code
    )
    return response


def set_session_cookie(response: Response, request: Request, value: str, max_age: int) -> None:
    """HttpOnly, SameSite=Lax, and Secure when the console is served over https."""
    response.set_cookie(
        SESSION_COOKIE,
        value,
        max_age=max_age,
        httponly=True,
        samesite="lax",
        secure=bool(request.app.state.secure_cookies),
        path="/",
    )

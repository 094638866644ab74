"""Login, logout and the home page."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from warning.store.models import Enterprise
from warning.web.auth import LoginRefused, login, logout
from warning.web.deps import (
    SESSION_COOKIE,
    client_address,
    need,
    now_of,
    public,
    render,
    set_session_cookie,
    settings_of,
    store_of,
)
from warning.web.permissions import Principal

router = APIRouter(include_in_schema=False)


def _safe_next(target: str) -> str:
    """Only a path on this site (no //host, no scheme): an open redirect would aid phishing."""
    if target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return "/"


@router.get("/login")
async def login_page(
    request: Request, next: str = "/", _: Principal | None = public("login")
) -> Response:
    return render(request, "login.html", {"next": _safe_next(next), "email": "", "error": ""})


@router.post("/login")
async def login_submit(
    request: Request,
    email: Annotated[str, Form(max_length=320)] = "",
    password: Annotated[str, Form(max_length=1000)] = "",
    next: Annotated[str, Form(max_length=2000)] = "/",
    _: Principal | None = public("login"),
) -> Response:
    settings = settings_of(request)
    try:
        new = login(
            store_of(request),
            settings,
            email=email,
            password=password,
            address=client_address(request),
            now=now_of(request),
            replaces=request.cookies.get(SESSION_COOKIE) or None,
        )
    except LoginRefused as exc:
        data = {"next": _safe_next(next), "email": email, "error": exc.message}
        return render(request, "login.html", data, status_code=429 if exc.throttled else 401)
    response = RedirectResponse(_safe_next(next), status_code=303)
    set_session_cookie(
        response, request, new.cookie_value, int(settings.web_session_absolute_hours * 3600)
    )
    return response


@router.post("/logout")
async def logout_submit(request: Request, _: Principal = need("console.use")) -> Response:
    logout(store_of(request), request.cookies.get(SESSION_COOKIE, ""))
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


@router.get("/")
async def home(request: Request, principal: Principal = need("console.use")) -> Response:
    name = None
    if principal.enterprise_id:
        with store_of(request).read_session() as session:
            ent = session.get(Enterprise, principal.enterprise_id)
            name = ent.name if ent else None
    data = {
        "user": {
            "email": principal.email,
            "role": principal.role,
            "enterprise": principal.enterprise_id,
        },
        "enterprise_name": name,
    }
    return render(request, "home.html", data)

"""The console's ASGI application: security headers, JSON twins, errors, routers.

``create_app(App(...))`` gives a FastAPI app bound to one ipwarn configuration; ``ipwarn web``
serves it with uvicorn. Pages render Jinja2 templates with autoescaping on, so crawled text
(titles, applicants, rule titles) is always escaped.
"""

from __future__ import annotations

import secrets
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import quote

import jinja2
from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from warning.app import App
from warning.errors import IpwarnError, ProblemsError
from warning.logging import get_logger
from warning.web import routers
from warning.web.deps import ANON_CSRF_COOKIE, render, wants_json
from warning.web.inputs import refuse_unstorable_text
from warning.web.permissions import AccessDenied

log = get_logger(__name__)

PACKAGE = Path(str(resources.files("warning.web")))
#: pages may load scripts and styles from /static only: no inline script, no framing
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
}
#: JSON twins: these paths end in .json already and are no page's twin
NOT_TWINS = frozenset({"/openapi.json"})


class ConsoleMiddleware:
    """Pure ASGI: ``/x.json`` is routed as ``/x`` with JSON output; security headers added."""

    def __init__(self, app: ASGIApp, secure: bool) -> None:
        self.app = app
        self.secure = secure

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        if path.endswith(".json") and path not in NOT_TWINS and not path.startswith("/api/"):
            scope = {**scope, "path": path[: -len(".json")] or "/", "ipwarn_json": True}
            scope["raw_path"] = scope["path"].encode()
        anon = _cookie(scope, ANON_CSRF_COOKIE)
        new_anon = "" if anon else secrets.token_urlsafe(32)
        scope["ipwarn_anon_csrf"] = anon or new_anon
        secure = self.secure

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {k.lower() for k, _ in headers}
                for name, value in SECURITY_HEADERS.items():
                    if name.lower().encode() not in present:
                        headers.append((name.encode(), value.encode()))
                if b"cache-control" not in present:
                    headers.append((b"cache-control", b"no-store"))
                if secure:
                    headers.append((b"strict-transport-security", b"max-age=31536000"))
                if new_anon:
                    cookie = f"{ANON_CSRF_COOKIE}={new_anon}; Path=/; HttpOnly; SameSite=Lax"
                    headers.append(
                        (b"set-cookie", (cookie + ("; Secure" if secure else "")).encode())
                    )
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)


def _cookie(scope: Scope, name: str) -> str:
    for key, value in scope.get("headers", []):
        if key == b"cookie":
            for part in value.decode("latin-1").split(";"):
                k, _, v = part.strip().partition("=")
                if k == name:
                    return v
    return ""


def _templates() -> Jinja2Templates:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(PACKAGE / "templates")),
        autoescape=True,  # every template, whatever its name: crawled text is untrusted
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    from warning.web import filters

    filters.install(env)
    return Jinja2Templates(env=env)


def error_response(
    request: Request, status: int, message: str, fields: list[dict[str, str]] | None = None
) -> Response:
    """One error shape: JSON ``{"error", "status", "fields"}`` for the API, a page otherwise."""
    if status == 401 and not wants_json(request):
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return RedirectResponse("/login?next=" + quote(target, safe=""), status_code=303)
    if wants_json(request):
        body: dict[str, Any] = {"error": message, "status": status}
        if fields:
            body["fields"] = fields
        headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
        return JSONResponse(body, status_code=status, headers=headers)
    return render(
        request,
        "error.html",
        {"status": status, "message": message, "fields": fields or []},
        status_code=status,
    )


def _field_name(loc: tuple[Any, ...]) -> str:
    return ".".join(str(p) for p in loc if p not in ("body",)) or "body"


def create_app(ipwarn: App | None = None) -> FastAPI:
    """The console for ``ipwarn`` (default: settings from the environment / ipwarn.toml)."""
    core = ipwarn or App()
    settings = core.settings
    secure = bool(settings.public_base_url and settings.public_base_url.startswith("https://"))
    app = FastAPI(
        title="ipwarn API",
        version="1",
        description="知识产权预警 JSON API. Authenticate with `Authorization: Bearer <token>` "
        "(`ipwarn users token EMAIL`).",
        docs_url=None,
        redoc_url=None,
        openapi_url="/openapi.json",
        dependencies=[Depends(refuse_unstorable_text)],
    )
    app.state.ipwarn = core
    app.state.secure_cookies = secure
    app.state.templates = _templates()
    app.state.nav = []
    app.mount("/static", StaticFiles(directory=str(PACKAGE / "static")), name="static")
    for module in routers.modules():
        app.include_router(module.router)
        app.state.nav.extend(getattr(module, "NAV", []))
    app.state.nav.sort(key=lambda n: (n.order, n.path))

    @app.exception_handler(AccessDenied)
    async def _denied(request: Request, exc: AccessDenied) -> Response:
        return error_response(request, exc.status, exc.message)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        messages = {404: "未找到 (not found)", 405: "不支持的请求方法 (method not allowed)"}
        detail = exc.detail if isinstance(exc.detail, str) else ""
        return error_response(
            request, exc.status_code, messages.get(exc.status_code, detail or "error")
        )

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> Response:
        fields = [
            {"field": _field_name(tuple(e["loc"])), "message": str(e["msg"])} for e in exc.errors()
        ]
        summary = "; ".join(f"{f['field']}: {f['message']}" for f in fields)
        return error_response(request, 422, f"输入有误 (invalid input): {summary}", fields)

    @app.exception_handler(ProblemsError)
    async def _problems(request: Request, exc: ProblemsError) -> Response:
        fields = [{"field": p.field or "", "message": p.message} for p in exc.problems]
        return error_response(request, 422, str(exc), fields)

    @app.exception_handler(IpwarnError)
    async def _ipwarn(request: Request, exc: IpwarnError) -> Response:
        return error_response(request, 409, str(exc))

    @app.exception_handler(Exception)
    async def _crash(request: Request, exc: Exception) -> Response:
        log.error("web.error", path=request.url.path, error=f"{type(exc).__name__}: {exc}")
        return error_response(
            request, 500, "服务器内部错误，已记录 (internal error; it was logged)"
        )

    app.add_middleware(ConsoleMiddleware, secure=secure)
    return app

"""Authorisation: every route declares need(...) or public(...); the role matrix holds."""

from __future__ import annotations

from fastapi.routing import APIRoute

from warning.app import App
from warning.web.app import create_app
from warning.web.routers import api_routes


def _declared(route: APIRoute) -> list[str]:
    found = []
    for dep in route.dependant.dependencies:
        call = dep.call
        if hasattr(call, "permission"):
            found.append(f"need:{call.permission}")
        if hasattr(call, "public"):
            found.append(f"public:{call.public}")
    return found


def test_every_route_declares_its_permission(settings):
    create_app(App(settings=settings))
    routes = api_routes()
    assert routes
    missing = [f"{sorted(r.methods)} {r.path}" for r in routes if len(_declared(r)) != 1]
    assert missing == [], f"routes without exactly one need()/public(): {missing}"

"""Every GET page and API call of the console, each query parameter in turn, and every console
form, each field in turn, set to values a fuzzer or a mistyped URL sends: answered 2xx/3xx/4xx,
never a server error.

The schemathesis test covers the API's documented parameters; this covers the HTML pages too
(they are not in /openapi.json), with the calendar's ends, huge numbers, LIKE wildcards,
unbalanced query syntax and a 5,000-character value.
"""

from __future__ import annotations

import pytest
from fastapi.routing import APIRoute
from pydantic import BaseModel

from tests.web_support import ROLES_USERS, api_token, csrf_of, make_web, seed
from warning.web.routers import api_routes

HOSTILE_VALUES = (
    "0001-01-01",
    "9999-12-31",
    "0001-W01",
    "9999-W52",
    "-1",
    "0",
    "99999999999999999999",
    "1e309",
    "NaN",
    "%",
    "_%'\"\\",
    "硅钢 AND (",
    "\u3000",
    "x" * 5000,
)


def _path(route: APIRoute, ids: dict[str, str]) -> str:
    path = route.path
    for param in route.dependant.path_params:
        path = path.replace("{" + param.name + "}", ids.get(param.name, "1"))
    return path


def _get_routes() -> list[APIRoute]:
    return [r for r in api_routes() if "GET" in r.methods and r.path not in ("/logout",)]


@pytest.fixture
def admin(store, settings):
    web = make_web(store, settings)
    seeded = seed(web)
    ids = {
        "alert_id": str(seeded.own_alerts[0]),
        "sub_id": str(seeded.own_subscription),
        "enterprise_id": "ent-a",
    }
    token = {"Authorization": f"Bearer {api_token(web, ROLES_USERS['admin'])}"}
    return web.login(ROLES_USERS["admin"]), token, ids


def test_no_page_or_api_call_answers_a_hostile_query_with_a_server_error(admin):
    """As the admin (every page): pages with the session, the API with a token."""
    client, token, ids = admin
    routes = _get_routes()
    assert len(routes) >= 20
    failures, answered = [], set()
    for route in routes:
        path = _path(route, ids)
        headers = token if route.path.startswith("/api/") else {}
        for param in route.dependant.query_params:
            for value in HOSTILE_VALUES:
                response = client.get(
                    path, params={param.alias: value}, headers=headers, follow_redirects=False
                )
                answered.add(response.status_code)
                if response.status_code >= 500:
                    failures.append(f"GET {path}?{param.alias}={value[:20]!r}")
        if route.dependant.path_params:  # an id no integer key can be
            huge = route.path
            for param in route.dependant.path_params:
                huge = huge.replace("{" + param.name + "}", "9" * 20)
            response = client.get(huge, headers=headers, follow_redirects=False)
            if response.status_code >= 500:
                failures.append(f"GET {huge}")
    assert failures == []
    assert {200, 422} <= answered  # the probe reached the views: some values pass, some refused


FORM_VALUES = ("0001-01-01", "99999999999999999999", "_%'\"\\", "硅钢 AND (", "\u3000", "x" * 5000)


def _form_fields(route: APIRoute) -> list[str]:
    names: list[str] = []
    for param in route.dependant.body_params:
        model = getattr(param.field_info, "annotation", None)
        if isinstance(model, type) and issubclass(model, BaseModel):
            names += list(model.model_fields)  # a form model (ScreenForm)
        else:
            names.append(param.alias)
    return names


def test_no_console_form_answers_a_hostile_field_with_a_server_error(admin):
    """Every console form (POST/PUT, CSRF token given), each field in turn hostile, the others
    left out: refused or accepted, never a 5xx."""
    client, _token, ids = admin
    csrf = csrf_of(client)
    routes = [
        r
        for r in api_routes()
        if {"POST", "PUT"} & r.methods
        and not r.path.startswith("/api/")
        and r.path not in ("/login", "/logout")  # they end the session (tests/test_web_auth.py)
    ]
    assert len(routes) >= 10
    failures, fields, answered, denied = [], 0, set(), set()
    for route in routes:
        path = _path(route, ids)
        for name in _form_fields(route):
            fields += 1
            for value in FORM_VALUES:
                response = client.post(
                    path, data={"csrf_token": csrf, name: value}, follow_redirects=False
                )
                answered.add(response.status_code)
                if response.status_code == 403:
                    denied.add(path)
                if response.status_code >= 500:
                    failures.append(f"POST {path} {name}={value[:20]!r}")
    assert fields >= 30 and failures == []
    # the views ran: the CSRF token was accepted; only the e-mailed links want their own token
    assert 422 in answered and denied <= {"/feedback", "/mute"}

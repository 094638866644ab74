"""Every GET page and API call of the console, each query parameter in turn set to values a
fuzzer or a mistyped URL sends: answered 2xx/3xx/4xx, never a server error.

The schemathesis test covers the API's documented parameters; this covers the HTML pages too
(they are not in /openapi.json), with the calendar's ends, huge numbers, LIKE wildcards,
unbalanced query syntax and a 5,000-character value.
"""

from __future__ import annotations

import pytest
from fastapi.routing import APIRoute

from tests.web_support import ROLES_USERS, api_token, make_web, seed
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
    assert failures == []
    assert {200, 422} <= answered  # the probe reached the views: some values pass, some refused

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


# --- the matrix: every route x every role x own/other tenant --------------------------------

import datetime as dt  # noqa: E402
import re  # noqa: E402

from tests.web_support import ROLES_USERS, api_token, make_web, seed  # noqa: E402
from warning.store.models import Digest, Silence, utcnow  # noqa: E402
from warning.web.permissions import PERMISSIONS, TENANT_SCOPED  # noqa: E402

#: path parameters that name a tenant's object
TENANT_PARAMS = {"alert_id", "sub_id", "silence_id"}
#: valid bodies, so that tenant checks are reached rather than form validation
BODIES = {
    "/alerts/{alert_id}/feedback": {"verdict": "known"},
    "/api/v1/alerts/{alert_id}/feedback": {"verdict": "known"},
    # bureau and admin create it (303), then find the name taken (422); the others: 403
    "/enterprises/{enterprise_id}/subscriptions": {"name": "matrix", "sectors": "steel"},
}
#: last, because it ends the session
LAST = {"/logout"}


def _silence(web, enterprise: str) -> int:
    with web.store.session() as session:
        row = Silence(
            kind="rule",
            target="steel.competitor",
            enterprise_id=enterprise,
            until=utcnow() + dt.timedelta(days=3),
            created_by="test",
        )
        session.add(row)
        session.flush()
        return row.id


def _fill(path: str, values: dict[str, object]) -> str:
    return re.sub(r"\{(\w+)\}", lambda m: str(values[m.group(1)]), path)


def _expected(
    role: str | None, permission: str, tenant_other: bool, api: bool, path: str
) -> set[int]:
    if role is None:
        return {401} if api else {303}
    allowed = role in PERMISSIONS[permission]
    if not allowed:
        return {403}
    if (
        role == "enterprise"
        and tenant_other
        and permission in TENANT_SCOPED
        and TENANT_PARAMS & set(re.findall(r"\{(\w+)\}", path))
    ):
        return {404}
    return {
        200,
        303,
        409,
        422,
    }  # served (422: the empty form / body was checked after authorisation)


def test_authorisation_matrix(store, settings):
    web = make_web(store, settings.model_copy(update={"bureau_recipients": ["b@ip.example.cn"]}))
    seeded = seed(web)
    with web.store.session() as session:
        html = web.settings.data_dir / "digest.html"
        html.parent.mkdir(parents=True, exist_ok=True)
        html.write_text("<p>周报</p>", encoding="utf-8")
        digest = Digest(
            week="2026-W47",
            status="draft",
            content={"has_data": False, "sectors": []},
            html_path=str(html),
        )
        session.add(digest)
        session.flush()
        digest_id = digest.id
    roles: dict[str | None, str | None] = {
        None: None,
        **{r: ROLES_USERS[r] for r in ("admin", "bureau", "expert", "enterprise")},
    }
    clients = {role: (web.login(email) if email else web.client()) for role, email in roles.items()}
    tokens = {role: api_token(web, email) for role, email in roles.items() if email}
    routes = sorted(
        (
            (r, m)
            for r in api_routes()
            for m in r.methods
            if any(hasattr(d.call, "permission") for d in r.dependant.dependencies)
        ),
        key=lambda rm: (rm[0].path in LAST, rm[0].path, rm[1]),
    )
    failures = []
    checked = 0
    for route, method in routes:
        permission = next(
            d.call.permission for d in route.dependant.dependencies if hasattr(d.call, "permission")
        )
        api = route.path.startswith("/api/")
        for variant in ("own", "other"):
            values = {
                "alert_id": (seeded.own_alerts if variant == "own" else seeded.other_alerts)[0],
                "sub_id": seeded.own_subscription
                if variant == "own"
                else seeded.other_subscription,
                "digest_id": digest_id,
                "rule_id": "steel.competitor",
                "version": 1,
                "change": "test",
                "email": ROLES_USERS["other"],
                "enterprise_id": "ent-a" if variant == "own" else "ent-b",
            }
            for role, client in clients.items():
                values["silence_id"] = _silence(web, "ent-a" if variant == "own" else "ent-b")
                path = _fill(route.path, values)
                extra = BODIES.get(route.path, {})
                if api:
                    headers = {"Authorization": f"Bearer {tokens[role]}"} if role else {}
                    body = {"json": extra} if method in ("POST", "PUT") else {}
                    response = client.request(
                        method, path, headers=headers, follow_redirects=False, **body
                    )
                else:
                    data = dict(extra)
                    if method == "POST" and role:
                        page = client.get("/")
                        found = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
                        data["csrf_token"] = found.group(1)
                    response = client.request(
                        method, path, data=data or None, follow_redirects=False
                    )
                want = _expected(role, permission, variant == "other", api, route.path)
                checked += 1
                if response.status_code not in want:
                    failures.append(
                        f"{method} {path} as {role or 'anonymous'} ({variant}): {response.status_code}, expected {sorted(want)}"
                    )
                if role == "enterprise" and variant == "other" and response.status_code == 404:
                    assert "乙化工" not in response.text and "聚丙烯" not in response.text
    assert checked > 300
    assert failures == [], "\n".join(failures)

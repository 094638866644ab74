"""Helpers for console tests: an app on the test store, users, logged-in clients."""

from __future__ import annotations

import re
from dataclasses import dataclass

from fastapi.testclient import TestClient

from warning.app import App
from warning.config import Settings
from warning.store.engine import Store
from warning.store.models import Enterprise, utcnow
from warning.web.app import create_app
from warning.web.users import add_user

PASSWORD = "correct-horse-battery"


@dataclass
class Web:
    app: App
    store: Store
    settings: Settings

    def client(self) -> TestClient:
        return TestClient(
            create_app(self.app), base_url="https://testserver", raise_server_exceptions=False
        )

    def enterprise(self, ent_id: str, name: str | None = None) -> str:
        with self.store.session() as session:
            if session.get(Enterprise, ent_id) is None:
                session.add(
                    Enterprise(
                        id=ent_id, name=name or ent_id, recipients=[f"ops@{ent_id}.example.cn"]
                    )
                )
        return ent_id

    def user(self, email: str, role: str, enterprise: str | None = None) -> str:
        with self.store.session() as session:
            add_user(
                session,
                email=email,
                role=role,
                enterprise_id=enterprise,
                password=PASSWORD,
                actor="test",
                now=utcnow(),
            )
        return email

    def login(
        self, email: str, password: str = PASSWORD, client: TestClient | None = None
    ) -> TestClient:
        client = client or self.client()
        client.get("/login")
        response = client.post(
            "/login",
            data={
                "email": email,
                "password": password,
                "csrf_token": client.cookies.get("ipwarn_csrf", ""),
                "next": "/",
            },
            follow_redirects=False,
        )
        assert response.status_code == 303, response.text
        return client


def csrf_of(client: TestClient, path: str = "/") -> str:
    """The CSRF token embedded in a page's forms."""
    page = client.get(path)
    found = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert found, f"no CSRF field on {path}"
    return found.group(1)


def make_web(store: Store, settings: Settings) -> Web:
    configured = settings.model_copy(update={"database_url": store.url})
    return Web(App(settings=configured), store, configured)


HOSTILE = '<script>alert("x")</script><img src=x onerror=alert(1)>'
ROLES_USERS = {
    "admin": "admin@ip.anshan.example.cn",
    "bureau": "bureau@ip.anshan.example.cn",
    "expert": "expert@ip.anshan.example.cn",
    "enterprise": "ip@ent-a.example.cn",
    "other": "ip@ent-b.example.cn",
}


@dataclass
class Seeded:
    own_alerts: list[int]
    other_alerts: list[int]
    own_subscription: int
    other_subscription: int


def seed(web: Web, settings: Settings | None = None) -> Seeded:
    """Two enterprises (ent-a with a hostile alert title, ent-b), alerts, one user per role."""
    from tests.smtp_support import add_alerts, add_enterprise

    cfg = settings or web.settings
    sub_a = add_enterprise(
        web.store, "ent-a", name="鞍山甲钢铁<b>有限公司</b>", recipients=["ip@ent-a.example.cn"]
    )
    sub_b = add_enterprise(
        web.store, "ent-b", name="鞍山乙化工有限公司", recipients=["ip@ent-b.example.cn"]
    )
    own = add_alerts(web.store, cfg, sub_a, 2, title="一种高磁感取向硅钢的制备方法")
    own += add_alerts(
        web.store,
        cfg,
        sub_a,
        1,
        start=10,
        title=HOSTILE,
        severity="high",
        rule_id="steel.hostile",
        explanation={
            "rule_title": HOSTILE,
            "title": HOSTILE,
            "terms": [HOSTILE],
            "number": "CN115000010A",
            "applicants": [HOSTILE],
            "severity": "high",
            "sector": "steel",
        },
    )
    other = add_alerts(web.store, cfg, sub_b, 2, start=100, title="一种聚丙烯改性材料")
    web.user(ROLES_USERS["admin"], "admin")
    web.user(ROLES_USERS["bureau"], "bureau")
    web.user(ROLES_USERS["expert"], "expert")
    web.user(ROLES_USERS["enterprise"], "enterprise", "ent-a")
    web.user(ROLES_USERS["other"], "enterprise", "ent-b")
    return Seeded(own, other, sub_a, sub_b)


def api_token(web: Web, email: str) -> str:
    from warning.web.users import issue_token

    with web.store.session() as session:
        _, raw = issue_token(session, email, "test", actor="test", now=utcnow())
    return raw

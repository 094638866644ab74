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
        return TestClient(create_app(self.app), raise_server_exceptions=False)

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

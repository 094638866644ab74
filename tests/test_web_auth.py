"""Console accounts: login, session rotation, logout, timeouts, CSRF, throttling, headers."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import func, select

from tests.web_support import PASSWORD, csrf_of, make_web
from warning.store.models import AuditEntry, WebSession


@pytest.fixture
def web(store, settings):
    return make_web(store, settings)


def test_healthz_answers_with_the_database(web):
    response = web.client().get("/healthz")
    assert response.status_code == 200
    assert response.json()["status"] == "ok"
    assert response.json()["database"] == web.store.dialect


def test_pages_need_login_and_send_security_headers(web):
    client = web.client()
    response = client.get("/", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/login?next=%2F"
    page = client.get("/login")
    csp = page.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp
    assert "unsafe-inline" not in csp
    assert page.headers["x-frame-options"] == "DENY"
    assert page.headers["referrer-policy"] == "same-origin"
    assert '<html lang="zh-CN">' in page.text
    assert "<script>" not in page.text  # no inline script anywhere
    json_twin = client.get("/.json")
    assert json_twin.status_code == 401
    assert json_twin.json()["status"] == 401


def test_login_rotates_the_session_and_logout_ends_it(web):
    web.user("admin@bureau.example.cn", "admin")
    client = web.login("admin@bureau.example.cn")
    first = client.cookies.get("ipwarn_session")
    assert client.get("/").status_code == 200
    cookie_header = next(
        h
        for h in client.post(
            "/login",
            data={
                "email": "admin@bureau.example.cn",
                "password": PASSWORD,
                "csrf_token": csrf_of(client),
            },
            follow_redirects=False,
        ).headers.get_list("set-cookie")
        if h.startswith("ipwarn_session=")
    )
    assert "HttpOnly" in cookie_header and "SameSite=lax" in cookie_header
    second = client.cookies.get("ipwarn_session")
    assert second and second != first
    stale = web.client()
    stale.cookies.set("ipwarn_session", first)
    assert stale.get("/", follow_redirects=False).status_code == 303  # the old id is dead
    assert (
        client.post(
            "/logout", data={"csrf_token": csrf_of(client)}, follow_redirects=False
        ).status_code
        == 303
    )
    replay = web.client()
    replay.cookies.set("ipwarn_session", second)
    assert replay.get("/", follow_redirects=False).status_code == 303
    with web.store.session() as session:
        assert session.scalar(select(func.count()).select_from(WebSession)) == 0
        assert session.scalar(select(func.count()).where(AuditEntry.action == "user.login")) == 2


def test_idle_and_absolute_timeouts_end_sessions(web):
    web.user("bureau@bureau.example.cn", "bureau")
    client = web.login("bureau@bureau.example.cn")
    app = client.app
    start = dt.datetime.now(dt.UTC)
    app.state.clock = lambda: (
        start + dt.timedelta(minutes=web.settings.web_session_idle_minutes + 1)
    )
    assert client.get("/", follow_redirects=False).status_code == 303
    client = web.login("bureau@bureau.example.cn")
    # active every 20 minutes, but past the absolute limit
    limit = dt.timedelta(hours=web.settings.web_session_absolute_hours)
    moment = start
    while moment + dt.timedelta(minutes=20) < start + limit:
        moment += dt.timedelta(minutes=20)
        client.app.state.clock = lambda m=moment: m
        assert client.get("/").status_code == 200
    client.app.state.clock = lambda: start + limit + dt.timedelta(minutes=1)
    assert client.get("/", follow_redirects=False).status_code == 303


def test_state_changing_forms_refuse_a_missing_or_wrong_csrf_token(web):
    web.user("expert@bureau.example.cn", "expert")
    client = web.login("expert@bureau.example.cn")
    for data in ({}, {"csrf_token": "forged"}):
        response = client.post("/logout", data=data, follow_redirects=False)
        assert response.status_code == 403
        assert "CSRF" in response.text
    assert client.get("/").status_code == 200  # still logged in
    anonymous = web.client()
    response = anonymous.post(
        "/login", data={"email": "expert@bureau.example.cn", "password": PASSWORD}
    )
    assert response.status_code == 403


def test_wrong_passwords_are_throttled_per_account_with_a_clear_message(web):
    web.user("ent@a.example.cn", "admin")
    client = web.client()
    client.get("/login")
    token = client.cookies.get("ipwarn_csrf")
    for _ in range(web.settings.web_login_max_failures):
        bad = client.post(
            "/login",
            data={"email": "ent@a.example.cn", "password": "wrong-password", "csrf_token": token},
        )
        assert bad.status_code == 401
        assert "邮箱或密码错误" in bad.text
    refused = client.post(
        "/login", data={"email": "ent@a.example.cn", "password": PASSWORD, "csrf_token": token}
    )
    assert refused.status_code == 429
    assert "登录失败次数过多" in refused.text
    assert "ipwarn_session" not in client.cookies


def test_failures_from_one_address_are_throttled_across_accounts(web):
    settings = web.settings.model_copy(update={"web_login_max_failures_per_address": 3})
    from tests.web_support import Web
    from warning.app import App

    web = Web(App(settings=settings), web.store, settings)
    web.user("victim@a.example.cn", "bureau")
    client = web.client()
    client.get("/login")
    token = client.cookies.get("ipwarn_csrf")
    for i in range(3):
        client.post(
            "/login",
            data={"email": f"guess{i}@a.example.cn", "password": "x" * 12, "csrf_token": token},
        )
    refused = client.post(
        "/login", data={"email": "victim@a.example.cn", "password": PASSWORD, "csrf_token": token}
    )
    assert refused.status_code == 429
    assert "此地址" in refused.text


def test_login_next_is_never_an_open_redirect(web):
    web.user("a@b.example.cn", "admin")
    client = web.client()
    client.get("/login")
    response = client.post(
        "/login",
        data={
            "email": "a@b.example.cn",
            "password": PASSWORD,
            "csrf_token": client.cookies.get("ipwarn_csrf"),
            "next": "//evil.example.com/x",
        },
        follow_redirects=False,
    )
    assert response.headers["location"] == "/"


def test_disabled_user_loses_sessions_at_once(web):
    from warning.store.models import utcnow
    from warning.web.users import set_active

    web.user("gone@a.example.cn", "expert")
    client = web.login("gone@a.example.cn")
    with web.store.session() as session:
        set_active(session, "gone@a.example.cn", False, actor="test", now=utcnow())
    assert client.get("/", follow_redirects=False).status_code == 303
    again = web.client()
    again.get("/login")
    response = again.post(
        "/login",
        data={
            "email": "gone@a.example.cn",
            "password": PASSWORD,
            "csrf_token": again.cookies.get("ipwarn_csrf"),
        },
    )
    assert response.status_code == 401

"""The bureau deactivates and reactivates an enterprise in the console (the CLI's service)."""

from __future__ import annotations

import html

import pytest
from sqlalchemy import func, select

from tests.rules_support import run_cli
from tests.web_support import ROLES_USERS, csrf_of, make_web, seed
from warning.store.models import AuditEntry, OutboxMessage, Subscription


@pytest.fixture
def web(store, settings):
    return make_web(store, settings)


def _seed(web) -> None:
    """The seeded enterprises, each watching a sector (as an imported subscription must)."""
    seed(web)
    with web.store.session() as session:
        for sub in session.scalars(select(Subscription)):
            sub.scope = {"sectors": ["steel"]}


def _active(store, enterprise: str) -> list[bool]:
    with store.read_session() as session:
        return list(
            session.scalars(
                select(Subscription.active).where(Subscription.enterprise_id == enterprise)
            )
        )


def _queued(store, enterprise: str) -> int:
    with store.read_session() as session:
        return int(
            session.scalar(
                select(func.count()).where(
                    OutboxMessage.enterprise_id == enterprise,
                    OutboxMessage.status.in_(("pending", "retrying", "held")),
                )
            )
            or 0
        )


def _toggle(client, enterprise: str, active: str, csrf: str | None = None):
    return client.post(
        f"/enterprises/{enterprise}/active",
        data={"active": active, "csrf_token": csrf if csrf is not None else csrf_of(client)},
        follow_redirects=False,
    )


def _row(page: str, enterprise: str) -> str:
    start = page.index(f"<td>{enterprise}</td>")
    return page[start : page.index("</tr>", start)]


def _audit(store, *where) -> list[tuple[str, str, dict]]:
    """(actor, action, detail) of the audit entries matching ``where``, oldest first."""
    with store.read_session() as session:
        rows = session.execute(
            select(AuditEntry.actor, AuditEntry.action, AuditEntry.detail)
            .where(*where)
            .order_by(AuditEntry.id)
        ).all()
    return [(actor, action, detail) for actor, action, detail in rows]


def test_bureau_deactivates_and_reactivates_an_enterprise(web, store):
    _seed(web)
    assert _queued(store, "ent-a") == 3 and _queued(store, "ent-b") == 2
    bureau = web.login(ROLES_USERS["bureau"])
    assert "启用" in _row(bureau.get("/enterprises").text, "ent-a")

    page = _toggle(bureau, "ent-a", "0")
    assert page.status_code == 200
    assert "已停用 ent-a：1 个订阅停用，取消 3 封待发邮件" in page.text
    assert "已停用" in _row(page.text, "ent-a") and "重新启用" in _row(page.text, "ent-a")
    assert _active(store, "ent-a") == [False]
    assert _queued(store, "ent-a") == 0  # its queued mail is cancelled
    assert _queued(store, "ent-b") == 2  # another enterprise is untouched
    twin = bureau.get("/enterprises.json").json()
    state = {e["id"]: e["state"] for e in twin["enterprises"]}
    assert state == {"ent-a": "inactive", "ent-b": "active"}

    page = _toggle(bureau, "ent-a", "1")
    assert page.status_code == 200
    assert "已重新启用 ent-a：1 个订阅恢复预警" in page.text
    assert _active(store, "ent-a") == [True]
    assert _queued(store, "ent-a") == 0  # cancelled mail is not revived

    rows = _audit(store, AuditEntry.target == "ent-a")
    assert [(a, b) for a, b, _ in rows] == [
        (ROLES_USERS["bureau"], "enterprise.deactivate"),
        (ROLES_USERS["bureau"], "enterprise.reactivate"),
    ]
    assert rows[0][2] == {"deactivated": ["default"], "queued_cancelled": 3}
    admin = web.login(ROLES_USERS["admin"])
    assert "enterprise.deactivate" in admin.get("/audit").text


def test_other_roles_may_not_deactivate_and_nothing_changes(web, store):
    _seed(web)
    for role in ("enterprise", "expert"):
        client = web.login(ROLES_USERS[role])
        response = _toggle(client, "ent-a", "0")
        assert response.status_code == 403, role
    anonymous = web.client()
    assert _toggle(anonymous, "ent-a", "0", csrf="").status_code == 303  # to the login page
    bureau = web.login(ROLES_USERS["bureau"])
    assert _toggle(bureau, "ent-a", "0", csrf="forged").status_code == 403  # CSRF
    assert _toggle(bureau, "ent-a", "maybe").status_code == 422
    assert _toggle(bureau, "no-such-ent", "0").status_code == 404
    assert _active(store, "ent-a") == [True] and _queued(store, "ent-a") == 3
    with store.read_session() as session:
        assert not session.scalar(
            select(func.count()).where(AuditEntry.action.like("enterprise.%activate"))
        )


def test_a_blank_console_enterprise_waits_for_its_scope(web, store):
    _seed(web)
    bureau = web.login(ROLES_USERS["bureau"])
    bureau.post(
        "/enterprises",
        data={"enterprise_id": "ent-new", "name": "鞍山新企业", "csrf_token": csrf_of(bureau)},
    )
    row = _row(bureau.get("/enterprises").text, "ent-new")
    assert "待设置订阅范围" in row and "/enterprises/ent-new/active" not in row
    page = _toggle(bureau, "ent-new", "1")
    assert "0 个订阅恢复预警；1 个尚无订阅范围，保存范围后生效" in page.text
    assert _active(store, "ent-new") == [False]


def test_the_cli_reactivates_what_it_deactivated(web, store, settings, monkeypatch, capsys):
    _seed(web)
    monkeypatch.setenv("IPWARN_DATABASE_URL", store.url)
    monkeypatch.setenv("IPWARN_DATA_DIR", str(settings.data_dir))
    code, out, err = run_cli(["subscriptions", "unsubscribe", "ent-b"], capsys)
    assert code == 0, err
    assert _active(store, "ent-b") == [False]
    code, out, err = run_cli(["subscriptions", "resubscribe", "ent-b"], capsys)
    assert code == 0, err
    assert "ent-b: reactivated default" in out
    assert _active(store, "ent-b") == [True]
    code, out, err = run_cli(
        ["subscriptions", "resubscribe", "ent-b", "--subscription", "nope"], capsys
    )
    assert code == 2 and "has no subscription 'nope'" in err


def _add_subscription(client, enterprise: str, csrf: str | None = None, **fields):
    return client.post(
        f"/enterprises/{enterprise}/subscriptions",
        data={"csrf_token": csrf if csrf is not None else csrf_of(client), **fields},
        follow_redirects=False,
    )


def _subscriptions(store, enterprise: str) -> list[tuple[str, bool, dict]]:
    with store.read_session() as session:
        return [
            (s.name, s.active, s.scope)
            for s in session.scalars(
                select(Subscription)
                .where(Subscription.enterprise_id == enterprise)
                .order_by(Subscription.id)
            )
        ]


def test_bureau_adds_a_second_subscription_through_the_import_service(web, store):
    """The import's validation and storage, the existing subscription untouched, the new one
    on its own page (where the bureau and the enterprise edit it), audited."""
    _seed(web)
    before = _subscriptions(store, "ent-a")
    assert before == [("default", True, {"sectors": ["steel"]})]
    bureau = web.login(ROLES_USERS["bureau"])
    assert "/enterprises/ent-a/subscriptions" in bureau.get("/enterprises").text  # the form

    # validated as `ipwarn subscriptions import` validates: the same messages, nothing stored
    for fields, field, message in (
        ({"name": "法律状态", "keywords": "(取向硅钢"}, "scope.keywords", "at character"),
        ({"name": "法律状态", "sectors": ["stel"]}, "scope.sectors", "unknown sector 'stel'"),
        ({"name": "法律状态", "frequency": "hourly"}, "frequency", "'immediate', 'daily'"),
        ({"name": ""}, "name", "at least 1 character"),
        ({"name": "default", "ipc": "C21D"}, "name", "appears more than once"),
    ):
        response = _add_subscription(bureau, "ent-a", **fields)
        assert response.status_code == 422, (fields, response.status_code)
        text = html.unescape(response.text)
        assert f"{field}: " in text and message in text, text[-1200:]
    assert _subscriptions(store, "ent-a") == before

    response = _add_subscription(
        bureau, "ent-a", name="取向硅钢专题", keywords="取向硅钢 OR 无取向硅钢", ipc="C21D8/12"
    )
    assert response.status_code == 303
    new_page = response.headers["location"]
    assert new_page.startswith("/subscriptions/")
    after = _subscriptions(store, "ent-a")
    assert after[0] == before[0]  # the first subscription is untouched
    assert after[1] == (
        "取向硅钢专题",
        True,
        {"keywords": "取向硅钢 OR 无取向硅钢", "ipc": ["C21D8/12"]},
    )
    assert _queued(store, "ent-a") == 3  # the import cancelled nothing
    assert "取向硅钢专题" in bureau.get(new_page).text
    assert "<td>2/2</td>" in _row(bureau.get("/enterprises").text, "ent-a")
    # the enterprise sees and edits its new subscription like its first one
    own = web.login(ROLES_USERS["enterprise"])
    assert own.get(new_page).status_code == 200 and "取向硅钢专题" in own.get("/subscriptions").text

    # without a scope it waits, inactive, for one saved on its page (as a console enterprise)
    response = _add_subscription(bureau, "ent-a", name="待定", frequency="weekly")
    assert response.status_code == 303
    assert _subscriptions(store, "ent-a")[2] == ("待定", False, {})

    added = AuditEntry.action == "subscription.add"
    rows = _audit(store, added, AuditEntry.enterprise_id == "ent-a")
    assert [(a, b) for a, b, _ in rows] == [(ROLES_USERS["bureau"], "subscription.add")] * 2


def test_only_the_bureau_and_admins_add_subscriptions(web, store):
    _seed(web)
    for role in ("enterprise", "expert"):
        client = web.login(ROLES_USERS[role])
        assert _add_subscription(client, "ent-a", name="x", sectors=["steel"]).status_code == 403
    anonymous = web.client()
    assert _add_subscription(anonymous, "ent-a", csrf="", name="x").status_code == 303  # login
    bureau = web.login(ROLES_USERS["bureau"])
    assert _add_subscription(bureau, "ent-a", csrf="forged", name="x").status_code == 403
    assert _add_subscription(bureau, "no-such-ent", name="x").status_code == 404
    assert _subscriptions(store, "ent-a") == [("default", True, {"sectors": ["steel"]})]
    admin = web.login(ROLES_USERS["admin"])
    assert (
        _add_subscription(admin, "ent-b", name="admin-added", sectors=["steel"]).status_code == 303
    )
    assert [name for name, _, _ in _subscriptions(store, "ent-b")] == ["default", "admin-added"]

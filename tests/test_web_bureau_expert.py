"""Bureau pages (dashboard, enterprises/users, digest approve/send) and expert pages (rules,
editor validation, back-test, immutable versions, activate), on both databases."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from tests.digest_support import WEEK, seed_fixture_week
from tests.rules_support import ingest_fixture_docs
from tests.web_support import ROLES_USERS, csrf_of, make_web, seed
from warning.digest.service import build_digest
from warning.digest.weeks import IsoWeek
from warning.store.models import AuditEntry, Digest, OutboxMessage, Rule, User

RULE_V1 = (
    "id: mining-watch\nversion: 1\ntitle: 矿山设备\nseverity: low\n"
    "status: active\nwhen: {subfields: [equipment.mining_equipment]}\n"
)
RULE_V2_TYPO = (
    "id: mining-watch\nversion: 2\ntitle: 矿山设备（仅外国）\nseverity: low\nstatus: draft\n"
    "when:\n  subfields: [equipment.mining_equipment]\n  applicant_foriegn: true\n"
)
RULE_V2 = RULE_V2_TYPO.replace("applicant_foriegn", "applicant_foreign")


@pytest.fixture
def web(store, settings):
    cfg = settings.model_copy(update={"bureau_recipients": ["bureau@ip.anshan.example.cn"]})
    return make_web(store, cfg)


def test_dashboard_shows_outbox_and_alerts_per_sector_and_severity(web):
    seed(web)
    client = web.login(ROLES_USERS["bureau"])
    data = client.get("/dashboard.json").json()
    steel = next(r for r in data["alerts_week"] if r["sector"] == "steel")
    assert steel["high"] == 1 and steel["medium"] == 4 and steel["total"] == 5
    assert data["outbox"]["pending"] == 5
    page = client.get("/dashboard")
    assert "本周预警" in page.text and "发件箱" in page.text
    assert web.login(ROLES_USERS["enterprise"]).get("/dashboard").status_code == 403


def test_bureau_creates_an_enterprise_invites_a_user_and_deactivates_them(web):
    seed(web)
    client = web.login(ROLES_USERS["bureau"])
    token = csrf_of(client, "/enterprises")
    made = client.post(
        "/enterprises",
        data={
            "csrf_token": token,
            "enterprise_id": "ent-c",
            "name": "鞍山丙矿业",
            "recipients": "ip@ent-c.example.cn",
        },
        follow_redirects=False,
    )
    assert made.status_code == 303
    bad = client.post(
        "/enterprises", data={"csrf_token": token, "enterprise_id": "ent d!", "name": "x"}
    )
    assert bad.status_code == 422 and "String should match pattern" in bad.text
    invited = client.post(
        "/users",
        data={
            "csrf_token": token,
            "email": "new@ent-c.example.cn",
            "role": "enterprise",
            "enterprise_id": "ent-c",
        },
    )
    assert invited.status_code == 200 and "仅显示一次" in invited.text
    password = invited.text.split("仅显示一次）：<code>")[1].split("</code>")[0]
    newcomer = web.login("new@ent-c.example.cn", password)
    assert newcomer.get("/alerts.json").json()["total"] == 0
    escalate = client.post(
        "/users", data={"csrf_token": token, "email": "root@x.example.cn", "role": "admin"}
    )
    assert escalate.status_code == 403
    off = client.post(
        "/users/new@ent-c.example.cn/active",
        data={"csrf_token": token, "active": "0"},
        follow_redirects=False,
    )
    assert off.status_code == 303
    assert newcomer.get("/", follow_redirects=False).status_code == 303
    with web.store.session() as session:
        assert (
            session.scalar(select(User.active).where(User.email == "new@ent-c.example.cn")) is False
        )
        actions = set(session.scalars(select(AuditEntry.action)))
    assert {"enterprise.add", "user.add", "user.disable"} <= actions


def test_bureau_approves_once_and_sends_the_digest_like_the_cli(web):
    seed_fixture_week(web.store)
    built = build_digest(web.store, web.settings, IsoWeek.parse(WEEK))
    web.user(ROLES_USERS["bureau"], "bureau")
    client = web.login(ROLES_USERS["bureau"])
    listing = client.get("/digests.json").json()["digests"]
    assert [d["id"] for d in listing] == [built.id]
    page = client.get(f"/digests/{built.id}")
    assert "驱动指标" in page.text and "批准" in page.text
    assert (
        client.get(f"/digests/{built.id}/html")
        .headers["content-security-policy"]
        .startswith("sandbox")
    )
    early = client.post(f"/digests/{built.id}/send", data={"csrf_token": csrf_of(client)})
    assert early.status_code == 409 and "approve it first" in early.text
    approved = client.post(
        f"/digests/{built.id}/approve", data={"csrf_token": csrf_of(client)}, follow_redirects=False
    )
    assert approved.status_code == 303
    again = client.post(f"/digests/{built.id}/approve", data={"csrf_token": csrf_of(client)})
    assert again.status_code == 409 and "already approved" in again.text
    sent = client.post(
        f"/digests/{built.id}/send", data={"csrf_token": csrf_of(client)}, follow_redirects=False
    )
    assert sent.status_code == 303
    with web.store.session() as session:
        row = session.get(Digest, built.id)
        assert (row.status, row.approved_by) == ("sent", ROLES_USERS["bureau"])
        assert session.scalars(
            select(OutboxMessage.recipient).where(OutboxMessage.kind == "digest")
        ).all() == ["bureau@ip.anshan.example.cn"]
        assert (
            session.scalar(select(func.count()).where(AuditEntry.action == "digest.approve")) == 1
        )
    web.user(ROLES_USERS["expert"], "expert")
    expert = web.login(ROLES_USERS["expert"])
    assert expert.get("/digests").status_code == 403
    denied = expert.post(f"/digests/{built.id}/approve", data={"csrf_token": csrf_of(expert)})
    assert denied.status_code == 403


def test_expert_fixes_a_rule_backtests_it_saves_and_activates(web):
    ingest_fixture_docs(web.store)
    web.user(ROLES_USERS["expert"], "expert")
    client = web.login(ROLES_USERS["expert"])
    form = {
        "csrf_token": csrf_of(client, "/rules/editor"),
        "yaml": RULE_V1,
        "status": "active",
        "action": "save",
    }
    assert "已保存：mining-watch@1" in client.post("/rules/editor", data=form).text
    form.update(yaml=RULE_V2_TYPO, status="draft", action="save")
    bad = client.post("/rules/editor", data=form)
    assert bad.status_code == 422
    assert (
        "console.yaml:8: when.applicant_foriegn: unknown key; did you mean &#39;applicant_foreign&#39;?"
        in bad.text
    )
    form.update(yaml=RULE_V2, action="backtest", since="2010-01-01", until="2022-12-31")
    tested = client.post("/rules/editor", data=form)
    assert tested.status_code == 200
    result = client.post("/rules/editor.json", data=form).json()["backtest"]
    (d,) = result["diffs"]
    assert (d["candidate_version"], d["active_version"], d["gained_count"], d["lost_count"]) == (
        2,
        1,
        0,
        1,
    )
    assert d["lost"][0]["subject"] == "doc:CN101880888B"
    with web.store.session() as session:
        assert (
            session.scalar(select(func.count()).select_from(Rule)) == 1
        )  # a back-test stores nothing
    form["action"] = "save"
    assert "已保存：mining-watch@2" in client.post("/rules/editor", data=form).text
    changed = {**form, "yaml": RULE_V2.replace("仅外国", "改标题")}
    refused = client.post("/rules/editor", data=changed)
    assert refused.status_code == 422 and "versions are immutable" in refused.text
    assert (
        client.post(
            "/rules/mining-watch/2/activate",
            data={"csrf_token": csrf_of(client)},
            follow_redirects=False,
        ).status_code
        == 303
    )
    versions = {
        v["version"]: v["status"] for v in client.get("/rules/mining-watch.json").json()["versions"]
    }
    assert versions == {1: "retired", 2: "active"}
    with web.store.session() as session:
        assert (
            session.scalar(select(Rule.source_file).where(Rule.version == 2))
            == f"console:{ROLES_USERS['expert']}"
        )
        assert session.scalar(select(func.count()).where(AuditEntry.action == "rule.activate")) == 1


def test_rules_show_precision_from_feedback(web):
    seeded = seed(web)
    ent = web.login(ROLES_USERS["enterprise"])
    for alert, verdict in zip(seeded.own_alerts[:2], ("useful", "not_relevant"), strict=True):
        ent.post(f"/alerts/{alert}/feedback", data={"verdict": verdict, "csrf_token": csrf_of(ent)})
    expert = web.login(ROLES_USERS["expert"])
    rules = {r["rule_id"]: r for r in expert.get("/rules.json").json()["rules"]}
    fb = rules["steel.competitor"]["active"]["feedback"]
    assert (fb["useful"], fb["not_relevant"], fb["precision"]) == (1, 1, 0.5)
    assert "50.0%（1/2）" in expert.get("/rules").text
    assert ent.get("/rules").status_code == 403

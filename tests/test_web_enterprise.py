"""Enterprise pages: inbox, why-card, tenant isolation, feedback (page and signed mail link),
mute links with RFC 8058 one-click, scope editing, silences; hostile text escaped everywhere."""

from __future__ import annotations

import datetime as dt
from urllib.parse import parse_qs, urlsplit

import pytest
from pydantic import SecretStr
from sqlalchemy import select

from tests.web_support import HOSTILE, ROLES_USERS, csrf_of, make_web, seed
from warning.delivery.links import feedback_urls, mute_url
from warning.store.models import AlertFeedback, AuditEntry, Silence, Subscription

SECRET = "test-link-secret"
BASE = "https://ipwarn.example.cn"


@pytest.fixture
def web(store, settings):
    cfg = settings.model_copy(update={"public_base_url": BASE, "link_secret": SecretStr(SECRET)})
    return make_web(store, cfg)


@pytest.fixture
def seeded(web):
    return seed(web)


def test_inbox_shows_own_alerts_newest_first_and_filters(web, seeded):
    client = web.login(ROLES_USERS["enterprise"])
    data = client.get("/alerts.json").json()
    ids = [a["id"] for a in data["alerts"]]
    assert sorted(ids) == sorted(seeded.own_alerts)
    assert not set(ids) & set(seeded.other_alerts)
    high = client.get("/alerts.json?severity=high").json()
    assert [a["id"] for a in high["alerts"]] == [seeded.own_alerts[2]]
    by_rule = client.get("/alerts.json?rule=steel.competitor").json()
    assert {a["id"] for a in by_rule["alerts"]} == set(seeded.own_alerts[:2])
    client.get(f"/alerts/{seeded.own_alerts[0]}")
    unread = client.get("/alerts.json?unread=1").json()
    assert seeded.own_alerts[0] not in [a["id"] for a in unread["alerts"]]
    assert len(unread["alerts"]) == 2
    bad = client.get("/alerts.json?since=yesterday")
    assert bad.status_code == 422
    assert bad.json()["fields"][0]["field"] == "since"


def test_another_enterprises_alert_answers_404_without_its_content(web, seeded):
    client = web.login(ROLES_USERS["enterprise"])
    other = seeded.other_alerts[0]
    for path in (f"/alerts/{other}", f"/alerts/{other}.json"):
        response = client.get(path)
        assert response.status_code == 404
        assert "聚丙烯" not in response.text
    post = client.post(
        f"/alerts/{other}/feedback", data={"verdict": "useful", "csrf_token": csrf_of(client)}
    )
    assert post.status_code == 404
    with web.store.session() as session:
        assert session.scalar(select(AlertFeedback)) is None


def test_why_card_shows_the_mail_explanation_and_hostile_text_is_escaped(web, seeded):
    client = web.login(ROLES_USERS["enterprise"])
    page = client.get(f"/alerts/{seeded.own_alerts[0]}")
    assert "为什么收到这条预警" in page.text
    assert "宝山钢铁股份有限公司" in page.text and "C21D8/12" in page.text
    assert "竞争对手新公开专利（steel.competitor 第 1 版）" in page.text
    for path in ("/alerts", f"/alerts/{seeded.own_alerts[2]}", "/subscriptions", "/"):
        html = client.get(path).text
        assert "<script>alert" not in html and "<img src=x" not in html, path
        assert "<b>有限公司" not in html, path
    assert "&lt;script&gt;alert" in client.get(f"/alerts/{seeded.own_alerts[2]}").text
    twin = client.get(f"/alerts/{seeded.own_alerts[2]}.json")
    assert twin.headers["content-type"].startswith("application/json")
    assert twin.json()["rule_title"] == HOSTILE


def test_feedback_from_the_page_is_stored_and_audited(web, seeded):
    client = web.login(ROLES_USERS["enterprise"])
    alert = seeded.own_alerts[0]
    response = client.post(
        f"/alerts/{alert}/feedback",
        data={
            "verdict": "not_relevant",
            "comment": "不是我们的产品线",
            "csrf_token": csrf_of(client),
        },
        follow_redirects=False,
    )
    assert response.status_code == 303
    page = client.get(response.headers["location"])
    assert "反馈已保存" in page.text and "不相关" in page.text
    no_token = client.post(f"/alerts/{alert}/feedback", data={"verdict": "useful"})
    assert no_token.status_code == 403
    with web.store.session() as session:
        row = session.scalar(select(AlertFeedback))
        assert (row.verdict, row.comment, row.via) == ("not_relevant", "不是我们的产品线", "page")
        entry = session.scalar(select(AuditEntry).where(AuditEntry.action == "feedback.set"))
        assert entry.actor == ROLES_USERS["enterprise"] and entry.enterprise_id == "ent-a"


def _link_parts(url: str) -> tuple[str, dict[str, str]]:
    parts = urlsplit(url)
    return parts.path, {k: v[0] for k, v in parse_qs(parts.query).items()}


def test_feedback_from_the_signed_mail_link_needs_no_login_and_refuses_forgeries(web, seeded):
    alert = seeded.own_alerts[1]
    links = feedback_urls(
        BASE, SECRET, alert_id=alert, enterprise_id="ent-a", now=dt.datetime.now(dt.UTC)
    )
    path, query = _link_parts(links["useful"])
    client = web.client()
    landing = client.get(path, params=query)
    assert landing.status_code == 200 and "有用" in landing.text
    with web.store.session() as session:
        assert session.scalar(select(AlertFeedback)) is None  # a GET (mail scanner) changes nothing
    done = client.post(path, data={**query, "comment": "已转研发部"})
    assert done.status_code == 200 and "已记录您的反馈" in done.text
    with web.store.session() as session:
        row = session.scalar(select(AlertFeedback))
        assert (row.alert_id, row.verdict, row.via, row.comment) == (
            alert,
            "useful",
            "link",
            "已转研发部",
        )
    forged = {**query, "rule": f"alert:{seeded.other_alerts[0]}"}
    assert client.post(path, data=forged).status_code == 403
    wrong_verdict = {**query, "action": "feedback:not_relevant"}
    assert client.get(path, params=wrong_verdict).status_code == 403
    old = feedback_urls(
        BASE,
        SECRET,
        alert_id=alert,
        enterprise_id="ent-a",
        now=dt.datetime.now(dt.UTC) - dt.timedelta(days=200),
    )
    _, expired = _link_parts(old["known"])
    response = client.get(path, params=expired)
    assert response.status_code == 403 and "过期" in response.text


def test_mute_link_confirms_then_silences_and_one_click_post_works(web, seeded):
    url = mute_url(
        BASE, SECRET, rule_id="steel.competitor", enterprise_id="ent-a", now=dt.datetime.now(dt.UTC)
    )
    path, query = _link_parts(url)
    client = web.client()
    page = client.get(path, params=query)
    assert page.status_code == 200 and "确认暂停" in page.text
    with web.store.session() as session:
        assert session.scalar(select(Silence)) is None
    # RFC 8058: the mail client POSTs List-Unsubscribe=One-Click to the List-Unsubscribe URL
    one_click = client.post(url.removeprefix(BASE), data={"List-Unsubscribe": "One-Click"})
    assert one_click.status_code == 200 and "已暂停" in one_click.text
    client.post(url.removeprefix(BASE), data={"List-Unsubscribe": "One-Click"})
    with web.store.session() as session:
        rows = session.scalars(select(Silence)).all()
        assert [(s.kind, s.target, s.enterprise_id) for s in rows] == [
            ("rule", "steel.competitor", "ent-a")
        ]
    tampered = {**query, "enterprise": "ent-b"}
    assert client.post(path, data=tampered).status_code == 403


def test_alert_mails_carry_feedback_links_and_one_click_unsubscribe(web, seeded):
    from warning.delivery.message import AlertView, build_alert_email

    now = dt.datetime.now(dt.UTC)
    view = AlertView(
        alert_id=7,
        rule_id="r",
        rule_title="规则",
        rule_version=1,
        severity="high",
        sector="steel",
        sector_name="钢",
        enterprise_id="ent-a",
        mute_url=mute_url(BASE, SECRET, rule_id="r", enterprise_id="ent-a", now=now),
        feedback_urls=feedback_urls(BASE, SECRET, alert_id=7, enterprise_id="ent-a", now=now),
    )
    msg = build_alert_email(
        [view],
        mail_from="ipwarn <a@ipwarn.test>",
        recipient="ip@ent-a.example.cn",
        enterprise_name="甲",
        digest_label="",
        message_id="<1@x>",
        now=now,
        tz=dt.UTC,
    )
    assert msg["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    html = msg.get_body(("html",)).get_content()
    assert "/feedback?" in html and "action=feedback%3Auseful" in html


def test_scope_edit_is_validated_like_an_import_and_stored(web, seeded):
    client = web.login(ROLES_USERS["enterprise"])
    sub = seeded.own_subscription
    form = {
        "csrf_token": csrf_of(client),
        "sectors": ["steel"],
        "keywords": "取向硅钢 AND (",
        "ipc": "C21D",
        "competitors": "宝山钢铁股份有限公司",
        "frequency": "daily",
        "quiet_hours": "22:00-07:00",
        "daily_cap": "5",
        "recipients": "ip@ent-a.example.cn",
    }
    bad = client.post(f"/subscriptions/{sub}", data=form)
    assert bad.status_code == 422
    assert "scope.keywords" in bad.text and "bad keyword expression" in bad.text
    with web.store.session() as session:
        assert session.get(Subscription, sub).frequency == "immediate"  # nothing stored
    form["keywords"] = "取向硅钢 AND (高磁感 OR 低铁损)"
    ok = client.post(f"/subscriptions/{sub}", data=form, follow_redirects=False)
    assert ok.status_code == 303
    stored = client.get(f"/subscriptions/{sub}.json").json()["subscription"]
    assert stored["scope"]["sectors"] == ["steel"] and stored["scope"]["ipc"] == ["C21D"]
    assert stored["frequency"] == "daily" and stored["quiet_hours"] == "22:00-07:00"
    assert stored["daily_cap"] == 5
    form["recipients"] = "not-an-address"
    assert "is not an e-mail address" in client.post(f"/subscriptions/{sub}", data=form).text
    other = client.get(f"/subscriptions/{seeded.other_subscription}")
    assert other.status_code == 404 and "乙化工" not in other.text
    assert client.post(f"/subscriptions/{seeded.other_subscription}", data=form).status_code == 404


def test_silences_are_the_enterprises_own(web, seeded):
    client = web.login(ROLES_USERS["enterprise"])
    until = (dt.date.today() + dt.timedelta(days=30)).isoformat()
    response = client.post(
        "/silences",
        data={
            "csrf_token": csrf_of(client),
            "kind": "rule",
            "target": "steel.competitor",
            "until": until,
            "enterprise": "ent-b",
        },
        follow_redirects=False,
    )
    assert response.status_code == 303
    with web.store.session() as session:
        row = session.scalar(select(Silence))
        assert row.enterprise_id == "ent-a"  # the form cannot choose another tenant
        silence_id = row.id
    past = client.post(
        "/silences",
        data={"csrf_token": csrf_of(client), "kind": "rule", "target": "x", "until": "2001-01-01"},
    )
    assert past.status_code == 422 and "until" in past.text
    other = web.login(ROLES_USERS["other"])
    assert other.get("/silences.json").json()["silences"] == []
    assert [s["id"] for s in client.get("/silences.json").json()["silences"]] == [silence_id]
    denied = other.post(f"/silences/{silence_id}/remove", data={"csrf_token": csrf_of(other)})
    assert denied.status_code == 404
    removed = client.post(
        f"/silences/{silence_id}/remove",
        data={"csrf_token": csrf_of(client)},
        follow_redirects=False,
    )
    assert removed.status_code == 303
    with web.store.session() as session:
        assert session.scalar(select(Silence)) is None

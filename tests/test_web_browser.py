"""The three user journeys in a real browser (Playwright + Debian's Chromium, no JavaScript
needed by the pages): an enterprise reads a why-card, gives feedback and narrows its scope;
the bureau approves and sends a digest; an expert fixes, back-tests and activates a rule."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect, sync_playwright
from sqlalchemy import select

from tests.browser_support import CHROMIUM, CHROMIUM_ARGS, live_console, screenshot
from tests.digest_support import WEEK, seed_fixture_week
from tests.rules_support import ingest_fixture_docs
from tests.test_web_bureau_expert import RULE_V1, RULE_V2, RULE_V2_TYPO
from tests.web_support import PASSWORD, ROLES_USERS, make_web, seed
from warning.digest.service import build_digest
from warning.digest.weeks import IsoWeek
from warning.store.models import AlertFeedback, Digest, OutboxMessage, Rule, Subscription


@pytest.fixture(scope="module")
def browser():
    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def web(store, settings):
    cfg = settings.model_copy(update={"bureau_recipients": ["bureau@ip.anshan.example.cn"]})
    return make_web(store, cfg)


def _login(page: Page, base: str, email: str) -> None:
    page.goto(base + "/")
    expect(page).to_have_url(re.compile(r"/login"))
    page.get_by_label("邮箱").fill(email)
    page.get_by_label("密码").fill(PASSWORD)
    page.get_by_role("button", name="登录").click()
    expect(page.get_by_text("欢迎，" + email)).to_be_visible()


def test_enterprise_reads_why_card_gives_feedback_and_narrows_scope(web, browser):
    seeded = seed(web)
    with live_console(web.app) as base:
        page = browser.new_page(viewport={"width": 390, "height": 844})  # a phone
        _login(page, base, ROLES_USERS["enterprise"])
        page.get_by_role("navigation").get_by_role("link", name="预警", exact=True).click()
        expect(page.locator("tbody tr")).to_have_count(3)
        screenshot(page, "enterprise-inbox")
        page.get_by_role("link", name="CN115000000A").click()
        why = page.locator("#why")
        expect(why).to_contain_text("为什么收到这条预警")
        expect(why).to_contain_text("宝山钢铁股份有限公司")
        screenshot(page, "enterprise-alert")
        page.get_by_label("不相关").check()
        page.get_by_label("备注（可选）").fill("与我司产品无关")
        page.get_by_role("button", name="提交反馈").click()
        expect(page.get_by_text("反馈已保存")).to_be_visible()
        page.get_by_role("navigation").get_by_role("link", name="订阅", exact=True).click()
        page.get_by_role("link", name="default").click()
        page.get_by_label("精品钢材及深加工").check()
        page.get_by_label(re.compile("关键词检索式")).fill("取向硅钢 AND (")
        page.get_by_role("button", name="保存").click()
        expect(page.get_by_role("alert")).to_contain_text("bad keyword expression")
        page.get_by_label(re.compile("关键词检索式")).fill("取向硅钢 AND 高磁感")
        page.get_by_role("button", name="保存").click()
        expect(page.get_by_text("已保存。")).to_be_visible()
        screenshot(page, "enterprise-scope")
    with web.store.session() as session:
        feedback = session.scalar(select(AlertFeedback))
        assert (feedback.alert_id, feedback.verdict) == (seeded.own_alerts[0], "not_relevant")
        scope = session.get(Subscription, seeded.own_subscription).scope
        assert scope["sectors"] == ["steel"] and scope["keywords"] == "取向硅钢 AND 高磁感"


def test_bureau_approves_and_sends_the_digest(web, browser):
    seed_fixture_week(web.store)
    built = build_digest(web.store, web.settings, IsoWeek.parse(WEEK))
    web.user(ROLES_USERS["bureau"], "bureau")
    with live_console(web.app) as base:
        page = browser.new_page()
        page.on("dialog", lambda dialog: dialog.accept())  # the data-confirm questions
        _login(page, base, ROLES_USERS["bureau"])
        page.get_by_role("navigation").get_by_role("link", name="周报").click()
        page.get_by_role("link", name=f"#{built.id}").click()
        expect(page.get_by_text("驱动指标")).to_be_visible()
        screenshot(page, "bureau-digest")
        page.get_by_role("button", name="批准").click()
        expect(page.get_by_text("已批准。")).to_be_visible()
        expect(page.get_by_text("批准人：" + ROLES_USERS["bureau"])).to_be_visible()
        page.get_by_role("button", name="发送").click()
        expect(page.get_by_text("已加入发件箱")).to_be_visible()
        page.get_by_role("navigation").get_by_role("link", name="总览").click()
        expect(page.get_by_text("发件箱", exact=True)).to_be_visible()
        screenshot(page, "bureau-dashboard")
    with web.store.session() as session:
        digest = session.get(Digest, built.id)
        assert (digest.status, digest.approved_by) == ("sent", ROLES_USERS["bureau"])
        assert (
            session.scalar(select(OutboxMessage.recipient).where(OutboxMessage.kind == "digest"))
            == "bureau@ip.anshan.example.cn"
        )


def test_expert_fixes_backtests_and_activates_a_rule(web, browser):
    ingest_fixture_docs(web.store)
    web.user(ROLES_USERS["expert"], "expert")
    with live_console(web.app) as base:
        page = browser.new_page()
        page.on("dialog", lambda dialog: dialog.accept())
        _login(page, base, ROLES_USERS["expert"])
        page.get_by_role("navigation").get_by_role("link", name="规则", exact=True).click()
        page.get_by_role("link", name="新建规则").click()
        editor = page.get_by_label("规则定义")
        editor.fill(RULE_V1)
        page.get_by_label("保存为").select_option("active")
        page.get_by_role("button", name="保存新版本").click()
        expect(page.get_by_role("status")).to_contain_text("已保存：mining-watch@1")
        editor.fill(RULE_V2_TYPO)
        page.get_by_label("保存为").select_option("draft")
        page.get_by_role("button", name="保存新版本").click()
        expect(page.locator(".problems")).to_contain_text(
            "console.yaml:8: when.applicant_foriegn: unknown key; did you mean 'applicant_foreign'?"
        )
        screenshot(page, "expert-error")
        page.get_by_label("规则定义").fill(RULE_V2)
        page.get_by_label("回测起").fill("2010-01-01")
        page.get_by_label("回测止").fill("2022-12-31")
        page.get_by_role("button", name="回测").click()
        expect(page.get_by_text("新增 0，减少 1")).to_be_visible()
        expect(page.get_by_text("- doc:CN101880888B")).to_be_visible()
        screenshot(page, "expert-backtest")
        page.get_by_role("button", name="保存新版本").click()
        expect(page.get_by_role("status")).to_contain_text("已保存：mining-watch@2")
        page.goto(base + "/rules/mining-watch")
        page.locator("form[action='/rules/mining-watch/2/activate'] button").click()
        expect(page.locator("form[action='/rules/mining-watch/2/activate']")).to_have_count(0)
        screenshot(page, "expert-rule")
    with web.store.session() as session:
        statuses = dict(session.execute(select(Rule.version, Rule.status)).all())
        assert statuses == {1: "retired", 2: "active"}

"""The email itself: defensive "why this alert" cards, safe headers, valid addresses."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from tests.smtp_support import body
from warning.delivery.message import (
    AlertView,
    alert_subject,
    build_alert_email,
    clean_header,
    document_cards,
    explanation_rows,
    public_record_url,
    valid_address,
)

NOW = dt.datetime(2026, 11, 24, 2, 0, tzinfo=dt.UTC)


def view(**kw) -> AlertView:
    base = dict(
        alert_id=1,
        rule_id="r1",
        rule_title="规则",
        rule_version=2,
        severity="critical",
        sector="steel",
        sector_name="精品钢材及深加工",
        enterprise_id="e1",
        number="CN115212463A",
        title="标题",
    )
    base.update(kw)
    return AlertView(**base)  # type: ignore[arg-type]


def test_card_shows_known_keys_in_order_and_unknown_keys_too():
    rows = explanation_rows(
        {
            "similarity": 0.5,
            "terms": "单个词",
            "matched": ["a", "b"],
            "novel": {"x": [1, 2]},
            "severity": "high",
            "as_of": None,
        },
        {"applicants": ["宝钢"], "source": "cnipa"},
    )
    labels = [label for label, _ in rows]
    assert labels == ["命中条件", "命中关键词", "相似度", "申请人", "数据来源", "novel"]
    assert dict(rows)["novel"] == "x: 1、2" and dict(rows)["相似度"] == "0.5"


def test_empty_explanation_still_gives_a_card():
    assert explanation_rows({}, {}) == []
    msg = build_alert_email(
        [view()],
        mail_from="ipwarn <a@b.test>",
        recipient="x@example.com",
        enterprise_name="",
        digest_label="",
        message_id="<m@b.test>",
        now=NOW,
        tz=ZoneInfo("Asia/Shanghai"),
    )
    assert msg["Subject"] == "【红色预警·critical】精品钢材及深加工｜CN115212463A 专利预警"
    html = body(msg, "html")
    assert "规则（r1 第 2 版）" in html and "2026-11-24 10:00" in html


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("a\r\nBcc: x@y", "a Bcc: x@y"),
        ("tab\there", "tab here"),
        ("x" * 300, "x" * 179 + "…"),
        ("line\u2028sep", "line sep"),
        (None, ""),
    ],
)
def test_clean_header(raw, clean):
    assert clean_header(raw) == clean


@pytest.mark.parametrize(
    ("address", "ok"),
    [
        ("ip@example.com", True),
        ("Name <ip@example.com>", False),
        ("no-at", False),
        ("a@b@c", False),
        ("ip@example.com\r\nBcc: x@y", False),
        ("", False),
    ],
)
def test_valid_address(address, ok):
    assert valid_address(address) is ok


def test_public_record_url_keeps_only_number_characters():
    assert public_record_url("CN 115212463 A") == (
        "https://worldwide.espacenet.com/patent/search?q=pn%3DCN115212463A"
    )
    assert (
        public_record_url('"><script>')
        == "https://worldwide.espacenet.com/patent/search?q=pn%3Dscript"
    )
    assert public_record_url("") is None


@pytest.mark.parametrize(
    ("views", "expected"),
    [
        ([view(alert_id=1, document_id=1)], "｜CN115212463A 专利预警"),
        (
            [view(alert_id=1, document_id=1), view(alert_id=2, document_id=1, rule_id="r2")],
            "｜CN115212463A 专利 / 2 条预警",
        ),
        (
            [
                view(alert_id=1, document_id=1),
                view(alert_id=2, document_id=1, rule_id="r2"),
                view(alert_id=3, document_id=2, number="CN2A"),
            ],
            "｜2 件专利 / 3 条预警",
        ),
        (
            [view(alert_id=1, document_id=1), view(alert_id=3, document_id=2, number="CN2A")],
            "｜2 件专利预警",
        ),
        ([view(alert_id=1, number=""), view(alert_id=2, number="")], "｜2 条预警"),
    ],
)
def test_subject_counts_documents_then_alerts(views, expected):
    subject = alert_subject(document_cards(views), "", "")
    assert subject == "【红色预警·critical】精品钢材及深加工" + expected

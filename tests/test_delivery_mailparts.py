"""What the reader sees: one card per document, and digest charts as inline cid: images.

Both are checked on the message a real SMTP server (aiosmtpd on 127.0.0.1) received.
"""

from __future__ import annotations

import base64
import datetime as dt
import re
import struct
import zlib

from sqlalchemy import select

from tests.smtp_support import (
    NOW,
    add_alerts,
    add_enterprise,
    body,
    queue_digest,
    smtp_server,
    smtp_settings,
)
from warning.delivery.message import AlertView, document_cards
from warning.delivery.stage import run_deliver_stage
from warning.pipeline import StageContext
from warning.store.models import Alert

LATER = NOW + dt.timedelta(minutes=10)


def explanation(rule_title: str, number: str, title: str, why: str) -> dict[str, object]:
    return {
        "rule_title": rule_title,
        "rule_version": 1,
        "matched": {"applicant": why},
        "applicants": ["宝山钢铁股份有限公司"],
        "number": number,
        "title": title,
        "source": "cnipa",
        "as_of": "2026-11-20",
    }


def test_alerts_on_one_document_share_one_card_listing_every_rule(store, settings):
    sub = add_enterprise(store)
    shared_title = "一种高磁感取向硅钢的制备方法"
    with smtp_server() as server:
        cfg = smtp_settings(settings, store, server.port)
        (first,) = add_alerts(
            store,
            cfg,
            sub,
            1,
            rule_id="competitor-watch",
            severity="medium",
            explanation=explanation(
                "竞争对手监控", "CN107109599B", shared_title, "宝钢（竞争对手）"
            ),
        )
        with store.session() as session:
            doc_id = session.scalar(select(Alert.document_id).where(Alert.id == first))
        add_alerts(
            store,
            cfg,
            sub,
            1,
            rule_id="steel-rival-makers",
            severity="high",
            document_ids=[doc_id],
            explanation=explanation(
                "钢铁同行新专利", "CN107109599B", shared_title, "鞍钢集团（同行）"
            ),
        )
        add_alerts(
            store,
            cfg,
            sub,
            1,
            start=7,
            rule_id="competitor-watch",
            severity="low",
            explanation=explanation("竞争对手监控", "CN115000007A", "另一件专利", "宝钢"),
        )
        run_deliver_stage(StageContext(settings=cfg, store=store, now=LATER))
    (received,) = server.received
    assert len(received.alert_ids) == 3
    msg = received.message
    assert "橙色预警·high" in msg["Subject"] and "2 件专利 / 3 条预警" in msg["Subject"]
    html = body(msg, "html")
    text = body(msg, "plain")
    assert "共 2 件专利 / 3 条预警" in html
    for content in (html, text):
        assert content.count(shared_title) == 1  # the document once, not once per rule
        # both rules on its card, the more severe first, each with its own "why"
        high, medium = content.index("钢铁同行新专利"), content.index("竞争对手监控")
        assert high < medium < content.index("另一件专利")
        assert high < content.index("鞍钢集团（同行）") < medium < content.index("宝钢（竞争对手）")
    assert html.count("为什么收到这条预警") == 2 and "命中 2 条规则" in html
    # the document's facts are shown once per card, not repeated under each rule
    assert html.count("宝山钢铁股份有限公司") == 2


def view(alert_id: int, severity: str, rows: list[tuple[str, str]], **kw: object) -> AlertView:
    base: dict[str, object] = dict(
        alert_id=alert_id,
        rule_id=f"r{alert_id}",
        rule_title=f"规则{alert_id}",
        rule_version=1,
        severity=severity,
        sector="steel",
        sector_name="精品钢材及深加工",
        enterprise_id="e1",
        number="CN1A",
        title="t",
        rows=rows,
        document_id=1,
    )
    base.update(kw)
    return AlertView(**base)  # type: ignore[arg-type]


def test_cards_keep_differing_facts_per_rule_and_trend_alerts_apart():
    cards = document_cards(
        [
            view(1, "low", [("申请人", "宝钢"), ("数据截至", "2026-11-20"), ("命中关键词", "a")]),
            view(2, "critical", [("申请人", "宝钢"), ("数据截至", "2026-11-21")]),
            view(3, "high", [("统计窗口", "w")], number="", document_id=None),
        ]
    )
    assert [[r.view.alert_id for r in c.rules] for c in cards] == [[2, 1], [3]]
    assert cards[0].facts == [("申请人", "宝钢")]
    assert cards[0].rules[1].rows == [("数据截至", "2026-11-20"), ("命中关键词", "a")]
    assert not cards[1].has_document


def png(width: int, colour: int) -> bytes:
    """A real (tiny, grey) PNG, so the parts are what a chart would be."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    raw = b"".join(b"\x00" + bytes([colour]) * width for _ in range(2))
    header = struct.pack(">IIBBBBB", width, 2, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(raw))
        + chunk(b"IEND", b"")
    )


def test_digest_charts_go_out_as_inline_cid_images_with_the_pdf(store, settings, tmp_path):
    charts = [png(3, 10), png(4, 200)]
    uris = [f"data:image/png;base64,{base64.b64encode(c).decode()}" for c in charts]
    html = tmp_path / "digest-2026-W48.html"
    html.write_text(
        "<html><body><h1>周报 &lt;风险&gt;</h1>"
        f'<p><img alt="各领域每周公开量" src="{uris[0]}"></p>'
        f"<p><img alt='国外申请人占比' src='{uris[1]}'></p>"
        f'<p><img alt="again" src="{uris[0]}"></p></body></html>',
        encoding="utf-8",
    )
    pdf = tmp_path / "digest-2026-W48.pdf"
    pdf.write_bytes(b"%PDF-1.4 test")
    queue_digest(store, html, pdf)
    with smtp_server() as server:
        cfg = smtp_settings(settings, store, server.port)
        assert run_deliver_stage(StageContext(settings=cfg, store=store, now=LATER)).counts["sent"]
    (received,) = server.received
    msg = received.message
    assert msg.get_content_type() == "multipart/mixed"
    (related,) = [p for p in msg.walk() if p.get_content_type() == "multipart/related"]
    parts = list(related.iter_parts())
    assert [p.get_content_type() for p in parts] == ["text/html", "image/png", "image/png"]
    html = parts[0].get_content()
    assert "data:" not in html and "&lt;风险&gt;" in html  # not escaped twice
    referenced = re.findall(r"""src=["']cid:([^"']+)["']""", html)
    assert len(referenced) == 3 and referenced[0] == referenced[2]  # one part per image
    images = {str(p["Content-ID"]).strip("<>"): p.get_content() for p in parts[1:]}
    assert images == {referenced[0]: charts[0], referenced[1]: charts[1]}
    assert all(p.get_content_disposition() == "inline" for p in parts[1:])
    assert body(msg, "plain").strip() == "本周摘要"
    (attachment,) = list(msg.iter_attachments())
    assert attachment.get_filename() == pdf.name and attachment.get_content() == pdf.read_bytes()

"""Weekly risk digest: indicator values, levels, reproducibility, escaping, empty weeks, workflow."""

from __future__ import annotations

import base64
import datetime as dt
import re
from pathlib import Path

import pytest
from pypdf import PdfReader
from sqlalchemy import select

from tests.conftest import settings_for
from tests.digest_support import (
    MONDAY,
    WEEK,
    add_alert,
    add_document,
    doc_record,
    seed_fixture_week,
)
from warning.config import Settings
from warning.digest.service import (
    DigestStateError,
    approve_digest,
    build_digest,
    send_digest,
)
from warning.digest.weeks import IsoWeek
from warning.errors import ConfigError
from warning.store.engine import Store
from warning.store.models import Digest, OutboxMessage

BUILT_LINE = re.compile(r"^.*生成时间：.*$", re.MULTILINE)


def _sector(content: dict, sector_id: str) -> dict:
    return next(s for s in content["sectors"] if s["id"] == sector_id)


def _pdf_text(path: Path) -> str:
    # pypdf reads two-byte CID text as UTF-16 code units with NULs between; drop them
    return "".join(page.extract_text() for page in PdfReader(path).pages).replace("\x00", "")


def test_fixture_week_indicators_match_hand_computed_figures(store: Store, settings: Settings):
    seed_fixture_week(store)
    built = build_digest(store, settings_for(store, settings), IsoWeek.parse(WEEK))
    content = built.content
    steel = _sector(content, "steel")

    assert steel["publications"] == {
        "this": 6,
        "prev": 4,
        "wow": 0.5,
        "mean12": 3.0,
        "weeks_in_mean": 2,
        "vs_mean": 2.0,
    }
    assert steel["grants"] == {
        "this": 3,
        "prev": 1,
        "wow": 2.0,
        "mean12": 0.5,
        "weeks_in_mean": 2,
        "vs_mean": 6.0,
    }
    assert steel["foreign"]["count"] == 3 and steel["foreign"]["known"] == 6
    assert steel["foreign"]["share"] == 0.5
    assert steel["foreign"]["trailing_share"] == 0.0
    assert steel["foreign"]["change_points"] == 50.0
    assert steel["foreign"]["countries"] == {"JP": 2, "KR": 1}
    assert steel["top_applicants"][0] == {
        "name": "鞍钢股份有限公司",
        "documents": 2,
        "share": 0.2857,
    }
    assert steel["cr4"] == 0.7143
    assert steel["hhi"] == 1836.7
    assert steel["local"]["total"] == 2
    assert steel["local"]["by_region"] == {"鞍山": 2, "辽宁": 2}
    assert steel["legal"]["counts"] == {
        "invalidation": 1,
        "termination": 1,
        "expiry": 1,
        "transfer": 2,
        "other": 0,
    }
    assert [e["code"] for e in steel["legal"]["opportunities"]] == ["CF01", "MK4A", "IW01"]
    assert [e["number"] for e in steel["legal"]["transfers_out"]] == ["CN900004B"]
    assert [e["number"] for e in steel["legal"]["transfers_in"]] == ["CN900005B"]
    # the test alert and the one created late Sunday (Shanghai) are not counted
    assert steel["alerts"]["by_severity"] == {"critical": 1, "high": 1, "medium": 0, "low": 0}
    assert steel["notable"][0]["why"] == "JFE 在取向硅钢领域的新申请"
    # 12-week series: gaps for weeks without any stored document, zero is a real zero
    assert steel["series"] == [None] * 8 + [2, None, 4, 6]
    # d7: newest classifier version says equipment, the older one said steel
    equipment = _sector(content, "equipment")
    assert equipment["publications"]["this"] == 1
    assert equipment["level"] == "low"
    assert "filings_vs_mean" in equipment["insufficient"]

    # two weeks and six documents before W47 are below the packaged baseline (4 weeks, 20):
    # the trailing comparisons are shown but set no level (基线不足，不评级)
    assert steel["baseline"]["weeks"] == 2 and steel["baseline"]["documents"] == 6
    assert steel["baseline"]["note"] == "基线不足，不评级"
    assert steel["no_baseline"] == ["filings_vs_mean", "foreign_share_change"]
    assert steel["level"] == "high"
    assert {d["indicator"] for d in steel["drivers"] if d["level"] == "high"} == {
        "foreign_share",
        "critical_alerts",
    }
    assert _sector(content, "chemicals")["level"] is None  # no data: no level
    assert content["totals"]["publications"] == 7
    assert content["totals"]["alerts"] == 3


def test_fixture_week_with_a_lenient_baseline_grades_the_trailing_comparisons(
    sqlite_store: Store, settings: Settings, tmp_path: Path
):
    seed_fixture_week(sqlite_store)
    packaged = (Path(__file__).parent.parent / "warning/digest/thresholds.yaml").read_text("utf-8")
    lenient = tmp_path / "thresholds.yaml"
    lenient.write_text(
        packaged.replace("min_weeks: 4", "min_weeks: 2").replace(
            "min_documents: 20", "min_documents: 6"
        ),
        encoding="utf-8",
    )
    cfg = settings_for(sqlite_store, settings).model_copy(
        update={"digest_thresholds_file": lenient}
    )
    steel = _sector(build_digest(sqlite_store, cfg, IsoWeek.parse(WEEK)).content, "steel")
    assert steel["no_baseline"] == []  # exactly at the minimums is enough
    assert steel["level"] == "critical"
    assert steel["drivers"][0]["indicator"] == "foreign_share_change"
    assert {d["indicator"] for d in steel["drivers"] if d["level"] == "high"} == {
        "filings_vs_mean",
        "foreign_share",
        "critical_alerts",
    }


def test_digest_pages_show_levels_and_render_chinese(sqlite_store: Store, settings: Settings):
    seed_fixture_week(sqlite_store)
    built = build_digest(sqlite_store, settings_for(sqlite_store, settings), IsoWeek.parse(WEEK))
    html = built.html_path.read_text(encoding="utf-8")
    assert 'class="level lv-high">橙</span>' in html
    assert "国外申请人占比" in html and "≥ 40.0%" in html
    assert "基线不足，不评级：前12周有数据的 2 周内本领域 6 件文献" in html
    charts = re.findall(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"', html)
    assert len(charts) == 3
    assert all(base64.b64decode(c).startswith(b"\x89PNG") for c in charts)
    assert "http://" not in html and "https://" not in html  # self-contained
    text = _pdf_text(built.pdf_path)
    assert "精品钢材及深加工" in text and "可自由实施" in text


def test_two_builds_of_a_week_differ_only_in_build_time(store: Store, settings: Settings):
    seed_fixture_week(store)
    cfg = settings_for(store, settings)
    first = build_digest(
        store, cfg, IsoWeek.parse(WEEK), now=dt.datetime(2026, 11, 23, 0, 5, tzinfo=dt.UTC)
    )
    second = build_digest(
        store, cfg, IsoWeek.parse(WEEK), now=dt.datetime(2026, 11, 24, 9, 30, tzinfo=dt.UTC)
    )
    assert first.id != second.id
    assert first.input_hash == second.input_hash
    assert first.content == second.content
    html1 = first.html_path.read_text(encoding="utf-8")
    html2 = second.html_path.read_text(encoding="utf-8")
    assert html1 != html2  # the build time differs ...
    assert BUILT_LINE.sub("", html1) == BUILT_LINE.sub("", html2)  # ... and nothing else
    # new data changes the hash
    add_document(
        store, doc_record("555555", "A", MONDAY, [("某公司", "辽宁省鞍山市")], ["C21D8/12"])
    )
    third = build_digest(store, cfg, IsoWeek.parse(WEEK))
    assert third.input_hash != first.input_hash
    assert _sector(third.content, "steel")["publications"]["this"] == 7


def test_hostile_applicant_names_and_titles_are_escaped(sqlite_store: Store, settings: Settings):
    hostile = '<script>alert("x")</script>钢铁有限公司'
    title = '<img src=x onerror="alert(1)">硅钢'
    doc_id = add_document(
        sqlite_store,
        doc_record("666666", "A", MONDAY, [(hostile, "日本东京都")], ["C21D8/12"], title=title),
    )
    add_alert(
        sqlite_store,
        doc_id,
        "critical",
        "steel",
        dt.datetime(2026, 11, 17, tzinfo=dt.UTC),
        explanation={"why": "<b>bold</b> & <script>x</script>"},
    )
    built = build_digest(sqlite_store, settings_for(sqlite_store, settings), IsoWeek.parse(WEEK))
    html = built.html_path.read_text(encoding="utf-8")
    assert "<script>" not in html and "<img src=x" not in html and "<b>bold" not in html
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;钢铁有限公司" in html
    assert "&lt;img src=x onerror=&#34;alert(1)&#34;&gt;硅钢" in html
    assert "&lt;b&gt;bold&lt;/b&gt; &amp; " in html
    assert hostile in _pdf_text(built.pdf_path)  # drawn as text in the PDF, not interpreted


def test_a_week_without_data_says_so(store: Store, settings: Settings):
    seed_fixture_week(store)  # data in W44-W47, none in W30
    built = build_digest(store, settings_for(store, settings), IsoWeek.parse("2026-W30"))
    assert built.content["has_data"] is False
    assert all(s["level"] is None for s in built.content["sectors"])
    html = built.html_path.read_text(encoding="utf-8")
    assert "本周无数据" in html
    assert "<img " not in html and 'class="level lv-' not in html
    assert "本周无数据" in _pdf_text(built.pdf_path)


def test_thresholds_file_override_changes_the_level(
    sqlite_store: Store, settings: Settings, tmp_path: Path
):
    seed_fixture_week(sqlite_store)
    strict = tmp_path / "thresholds.yaml"
    strict.write_text(
        "version: 2\nmin_documents: 5\nindicators:\n"
        "  high_alerts: {label: 高预警, unit: count, critical: 1}\n",
        encoding="utf-8",
    )
    cfg = settings_for(sqlite_store, settings).model_copy(update={"digest_thresholds_file": strict})
    steel = _sector(build_digest(sqlite_store, cfg, IsoWeek.parse(WEEK)).content, "steel")
    assert steel["level"] == "critical"
    assert [d["indicator"] for d in steel["drivers"]] == ["high_alerts"]

    strict.write_text(
        "indicators:\n  foreign_share: {critical: 0.2, high: 0.5}\n", encoding="utf-8"
    )
    with pytest.raises(ConfigError, match=r"indicators\.foreign_share: thresholds must not rise"):
        build_digest(sqlite_store, cfg, IsoWeek.parse(WEEK))


def test_approve_then_send_queues_one_message_per_recipient(store: Store, settings: Settings):
    seed_fixture_week(store)
    cfg = settings_for(store, settings).model_copy(
        update={"bureau_recipients": ["ipb@anshan.example", "chief@anshan.example"]}
    )
    built = build_digest(store, cfg, IsoWeek.parse(WEEK))
    with pytest.raises(DigestStateError, match="approve it first"):
        send_digest(store, cfg, built.id)

    when = dt.datetime(2026, 11, 23, 2, 0, tzinfo=dt.UTC)
    approved = approve_digest(store, built.id, "张三", now=when)
    assert (approved.status, approved.approved_by, approved.approved_at) == (
        "approved",
        "张三",
        when,
    )
    with pytest.raises(DigestStateError, match=r"already approved \(approved by 张三"):
        approve_digest(store, built.id, "李四")

    assert send_digest(store, cfg, built.id) == 2
    assert send_digest(store, cfg, built.id) == 0  # idempotent
    with store.session() as session:
        rows = session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)).all()
        digest = session.get(Digest, built.id)
        assert digest is not None and digest.status == "sent" and digest.sent_at is not None
    assert [(r.kind, r.digest_id, r.recipient, r.idempotency_key) for r in rows] == [
        ("digest", built.id, "ipb@anshan.example", f"digest:{built.id}:ipb@anshan.example"),
        ("digest", built.id, "chief@anshan.example", f"digest:{built.id}:chief@anshan.example"),
    ]
    payload = rows[0].payload
    assert payload["subject"] == "知识产权风险周报 2026-W47（2026-11-16 至 2026-11-22）"
    assert Path(payload["html_path"]).is_file()
    assert [Path(p).suffix for p in payload["attachments"]] == [".pdf"]
    assert Path(payload["attachments"][0]).is_file()
    assert "[橙] 精品钢材及深加工" in payload["text"]
    assert "基线不足，不评级（前12周 2 周有数据、本领域 6 件" in payload["text"]


def test_send_without_bureau_recipients_is_a_config_error(sqlite_store: Store, settings: Settings):
    cfg = settings_for(sqlite_store, settings)
    built = build_digest(sqlite_store, cfg, IsoWeek.parse(WEEK))
    approve_digest(sqlite_store, built.id, "张三")
    with pytest.raises(ConfigError, match="bureau_recipients"):
        send_digest(sqlite_store, cfg, built.id)

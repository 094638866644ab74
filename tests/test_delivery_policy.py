"""Silences, inhibition, the daily cap, digest/operator rows and the .eml fallback."""

from __future__ import annotations

import datetime as dt
import email
import email.policy
from pathlib import Path

from sqlalchemy import select

from tests.smtp_support import NOW, add_alerts, add_enterprise, body, queue_digest, smtp_settings
from warning.delivery.outbox import enqueue_operator, outbox_summary
from warning.delivery.stage import run_deliver_stage
from warning.pipeline import StageContext
from warning.store.models import Alert, LegalEvent, OutboxMessage, Silence

LATER = NOW + dt.timedelta(minutes=10)


def rows(store):
    with store.session() as session:
        return list(session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))


def read_eml(path: str) -> email.message.EmailMessage:
    return email.message_from_bytes(Path(path).read_bytes(), policy=email.policy.default)


def run(store, cfg, now):
    return run_deliver_stage(StageContext(settings=cfg, store=store, now=now))


def test_without_smtp_host_mail_is_written_as_eml_files(store, settings):
    sub = add_enterprise(store)
    cfg = smtp_settings(settings, store, None)
    add_alerts(store, cfg, sub, 2)
    result = run(store, cfg, LATER)
    assert result.counts["files"] == 1 and len(result.outputs) == 1
    path = Path(result.outputs[0])
    assert path.parent == cfg.outbox_dir and path.suffix == ".eml"
    msg = read_eml(result.outputs[0])
    assert msg["To"] == "ip@example.com" and "2 件专利预警" in msg["Subject"]
    assert "no smtp_host" in result.note


def test_rule_silence_suppresses_until_it_expires(store, settings):
    sub = add_enterprise(store)
    cfg = smtp_settings(settings, store, None)
    with store.session() as session:
        session.add(
            Silence(
                kind="rule",
                target="steel.competitor",
                enterprise_id="ent-1",
                until=NOW + dt.timedelta(days=1),
                reason="under review",
            )
        )
    add_alerts(store, cfg, sub, 1)
    muted = run(store, cfg, LATER)
    assert muted.counts["suppressed"] == 1 and muted.outputs == []
    (row,) = rows(store)
    assert (
        row.status == "suppressed"
        and "silence #1" in row.last_error
        and "under review" in row.last_error
    )
    add_alerts(store, cfg, sub, 1, start=5, now=NOW + dt.timedelta(days=2))
    after = run(store, cfg, NOW + dt.timedelta(days=2, minutes=10))
    assert after.counts["sent"] == 1


def test_family_silence_matches_the_number_without_kind_code(store, settings):
    sub = add_enterprise(store)
    cfg = smtp_settings(settings, store, None)
    with store.session() as session:
        session.add(Silence(kind="family", target="CN115000001", until=NOW + dt.timedelta(days=1)))
    add_alerts(store, cfg, sub, 2)  # CN115000000A and CN115000001A
    result = run(store, cfg, LATER)
    assert result.counts["sent"] == 1 and result.counts["suppressed"] == 1
    assert "CN115000000A" in read_eml(result.outputs[0])["Subject"]


def test_lapse_alert_inhibits_lower_severity_alerts_on_the_same_patent(store, settings):
    sub = add_enterprise(store)
    cfg = smtp_settings(settings, store, None)
    (doc_alert,) = add_alerts(store, cfg, sub, 1, severity="medium")
    with store.session() as session:
        doc_id = session.get(Alert, doc_alert).document_id
        event = LegalEvent(
            document_id=doc_id,
            code="CF01",
            category="termination",
            event_date=dt.date(2026, 11, 18),
            description="未缴年费专利权终止",
        )
        session.add(event)
        session.flush()
        event_id = event.id
    (lapse,) = add_alerts(
        store,
        cfg,
        sub,
        1,
        severity="high",
        rule_id="own.lapse",
        document_ids=[doc_id],
        legal_event_id=event_id,
    )
    other = add_alerts(store, cfg, sub, 1, severity="low", start=7)  # another patent: untouched
    result = run(store, cfg, LATER)
    assert result.counts["suppressed"] == 1
    msg = read_eml(result.outputs[0])
    assert sorted(int(a) for a in msg["X-Ipwarn-Alerts"].split(",")) == sorted([lapse, *other])
    assert "橙色预警" in msg["Subject"]
    suppressed = next(r for r in rows(store) if r.alert_id == doc_alert)
    assert suppressed.status == "suppressed" and f"#{lapse}" in suppressed.last_error


def test_daily_cap_rolls_overflow_into_the_next_digest(store, settings):
    sub = add_enterprise(store, daily_cap=2)
    cfg = smtp_settings(settings, store, None)
    critical = add_alerts(store, cfg, sub, 1, severity="critical", rule_id="r.crit")
    low = add_alerts(store, cfg, sub, 3, severity="low", start=10, rule_id="r.low")
    first = run(store, cfg, LATER)
    assert first.counts["sent"] == 2 and first.counts["rolled_over"] == 2
    sent_now = read_eml(first.outputs[0])["X-Ipwarn-Alerts"].split(",")
    assert str(critical[0]) in sent_now  # the most severe go first
    # later the same day: the cap still holds, more alerts roll over too
    more = add_alerts(
        store,
        cfg,
        sub,
        1,
        severity="low",
        start=20,
        rule_id="r.low",
        now=LATER + dt.timedelta(hours=1),
    )
    assert run(store, cfg, LATER + dt.timedelta(hours=1, minutes=10)).counts["rolled_over"] == 1
    pending = [r for r in rows(store) if r.status == "pending"]
    assert len(pending) == 3 and all("|daily|" in r.group_key for r in pending)
    # next morning at 08:00 Asia/Shanghai (00:00 UTC) the digest carries all of them
    digest_time = dt.datetime(2026, 11, 25, 0, 0, tzinfo=dt.UTC)
    assert all(r.due_at == digest_time for r in pending)
    digest = run(store, cfg, digest_time)
    assert digest.counts["sent"] == 3 and digest.counts["messages"] == 1
    msg = read_eml(digest.outputs[0])
    assert "每日汇总" in msg["Subject"]
    delivered = {int(a) for a in msg["X-Ipwarn-Alerts"].split(",")} | {int(a) for a in sent_now}
    assert delivered == {*critical, *low, *more}  # nothing dropped


def test_digest_and_operator_rows_are_sent_as_queued(store, settings, tmp_path):
    cfg = smtp_settings(settings, store, None)
    pdf = tmp_path / "digest-2026-W48.pdf"
    pdf.write_bytes(b"%PDF-1.4 test")
    html = tmp_path / "digest.html"
    html.write_text("<p>本周 &lt;风险&gt; 摘要</p>", encoding="utf-8")
    queue_digest(store, html, pdf, subject="知识产权风险周报 2026-W48\r\nX-Evil: 1")
    with store.session() as session:
        enqueue_operator(
            session, ["ops@example.com"], key="test", subject="运维提醒", text="发件箱积压", now=NOW
        )
    result = run(store, cfg, LATER)
    assert result.counts["sent"] == 2
    by_to = {read_eml(p)["To"]: read_eml(p) for p in result.outputs}
    digest = by_to["bureau@example.gov"]
    assert digest["X-Evil"] is None and digest["Subject"].startswith("知识产权风险周报")
    assert "&lt;风险&gt;" in body(digest, "html")  # not escaped twice
    (attachment,) = list(digest.iter_attachments())
    assert attachment.get_filename() == pdf.name and attachment.get_content() == pdf.read_bytes()
    assert by_to["ops@example.com"].get_content().strip() == "发件箱积压"


def test_missing_attachment_is_a_dead_letter(store, settings, tmp_path):
    cfg = smtp_settings(settings, store, None)
    with store.session() as session:
        session.add(
            OutboxMessage(
                idempotency_key="digest:x",
                kind="digest",
                recipient="b@example.gov",
                due_at=NOW,
                payload={"subject": "s", "text": "t", "attachments": [str(tmp_path / "nope.pdf")]},
            )
        )
    assert run(store, cfg, LATER).counts["dead"] == 1
    assert "attachment not found" in rows(store)[0].last_error


def test_stale_outbox_alerts_the_operator_once_per_hour(store, settings):
    from tests.smtp_support import free_port

    sub = add_enterprise(store)
    # a server that is down: rows stay unsent and grow old
    down = smtp_settings(
        settings,
        store,
        free_port(),
        operator_recipients=["ops@example.com"],
        outbox_stale_minutes=30,
        smtp_outage_notice_minutes=600,  # the outage notice is tested in test_faults_runtime
    )
    add_alerts(store, down, sub, 1)
    assert run(store, down, LATER).counts["operator_alerts"] == 0
    late = NOW + dt.timedelta(hours=2)
    assert run(store, down, late).counts["operator_alerts"] == 1
    assert run(store, down, late + dt.timedelta(minutes=5)).counts["operator_alerts"] == 0
    ops = [r for r in rows(store) if r.kind == "operator"]
    assert len(ops) == 1 and "发件箱积压" in ops[0].payload["subject"]
    with store.session() as session:
        summary = outbox_summary(session, late)
    assert (
        summary.oldest_pending_age_seconds is not None and summary.oldest_pending_age_seconds > 1800
    )


def test_daily_subscription_waits_for_the_morning_digest(store, settings):
    sub = add_enterprise(store, frequency="daily")
    cfg = smtp_settings(settings, store, None)
    alert_ids = add_alerts(store, cfg, sub, 3)
    assert run(store, cfg, LATER).counts["sent"] == 0
    morning = dt.datetime(2026, 11, 25, 0, 0, tzinfo=dt.UTC)  # 08:00 Asia/Shanghai
    result = run(store, cfg, morning)
    assert result.counts["messages"] == 1
    msg = read_eml(result.outputs[0])
    assert "每日汇总" in msg["Subject"] and "3 件专利预警" in msg["Subject"]
    assert sorted(int(a) for a in msg["X-Ipwarn-Alerts"].split(",")) == alert_ids


def _screening(score: float) -> dict[str, object]:
    return {
        "rule_title": "侵权风险筛查",
        "similarity": {
            "score": score,
            "threshold": 0.45,
            "overlapping_terms": ["取向硅钢"],
            "percentile": 99.9,
            "note": "text similarity for screening only; not a legal assessment of infringement",
        },
        "number": "CN115000000A",
        "title": "一种高磁感取向硅钢的制备方法",
        "severity": "high",
    }


def test_daily_cap_keeps_rule_alerts_and_the_strongest_screening_hits(store, settings):
    sub = add_enterprise(store, daily_cap=2)
    cfg = smtp_settings(settings, store, None)
    # screening hits arrive first and have the same severity as the rule alert
    weak, strong, middling = (
        add_alerts(
            store,
            cfg,
            sub,
            1,
            severity="high",
            rule_id="infringement-screening",
            start=i,
            explanation=_screening(score),
        )[0]
        for i, score in enumerate((0.5, 0.9, 0.7))
    )
    rule_alert = add_alerts(
        store,
        cfg,
        sub,
        1,
        severity="high",
        rule_id="steel-silicon-foreign",
        start=10,
        explanation={
            "rule_title": "外国申请人硅钢专利",
            "number": "CN115000010A",
            "severity": "high",
        },
    )[0]
    first = run(store, cfg, LATER)
    assert first.counts["sent"] == 2 and first.counts["rolled_over"] == 2
    sent_now = {int(a) for a in read_eml(first.outputs[0])["X-Ipwarn-Alerts"].split(",")}
    assert sent_now == {rule_alert, strong}  # the rule alert is never deferred for screening
    held = [r for r in rows(store) if r.status == "pending"]
    assert {r.alert_id for r in held} == {weak, middling}
    assert all("daily cap reached" in (r.last_error or "") for r in held)
    digest = run(store, cfg, dt.datetime(2026, 11, 25, 0, 0, tzinfo=dt.UTC))
    msg = read_eml(digest.outputs[0])
    for part in ("plain", "html"):
        assert "其中 2 条预警因当日推送达到每日上限而顺延至本汇总" in body(msg, part)

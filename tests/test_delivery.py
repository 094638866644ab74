"""Delivery end to end against a real SMTP server (aiosmtpd on 127.0.0.1), on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt

from pydantic import SecretStr
from sqlalchemy import select

from tests.smtp_support import (
    NOW,
    RecordingHandler,
    add_alerts,
    add_enterprise,
    body,
    smtp_server,
    smtp_settings,
)
from warning.delivery.stage import run_deliver_stage
from warning.pipeline import StageContext
from warning.store.models import Alert, OutboxMessage

LATER = NOW + dt.timedelta(minutes=10)


def rows(store):
    with store.session() as session:
        return list(session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))


def test_burst_of_alerts_goes_out_as_one_message_per_recipient(store, settings):
    sub = add_enterprise(store, recipients=["a@example.com", "b@example.com"])
    with smtp_server() as server:
        cfg = smtp_settings(settings, store, server.port)
        alert_ids = add_alerts(store, cfg, sub, 3)
        early = run_deliver_stage(StageContext(settings=cfg, store=store, now=NOW))
        assert early.counts["sent"] == 0  # still inside the group window
        result = run_deliver_stage(StageContext(settings=cfg, store=store, now=LATER))
    assert result.counts["sent"] == 6 and result.counts["messages"] == 2
    assert sorted(r.rcpt_tos[0] for r in server.received) == ["a@example.com", "b@example.com"]
    for received in server.received:
        assert sorted(received.alert_ids) == alert_ids
        msg = received.message
        assert "黄色预警" in msg["Subject"] and "精品钢材" in msg["Subject"]
        assert msg.get_content_type() == "multipart/alternative"
        html = body(msg, "html")
        text = body(msg, "plain")
        assert "为什么收到这条预警" in html and "<script" not in html.lower()
        assert "取向硅钢" in text and "0.873" in text and "espacenet" in html
    assert {r.status for r in rows(store)} == {"sent"}
    with store.session() as session:
        assert set(session.scalars(select(Alert.status))) == {"sent"}


def test_starttls_and_auth(store, settings, tmp_path, monkeypatch):
    from tests.smtp_support import self_signed_cert, server_tls_context

    cert, key = self_signed_cert(tmp_path)
    # the client verifies the server certificate against this file (no verification switched off)
    monkeypatch.setenv("SSL_CERT_FILE", str(cert))
    handler = RecordingHandler(auth_users={"bureau": "s3cret"})
    sub = add_enterprise(store)
    with smtp_server(
        handler,
        tls_context=server_tls_context(cert, key),
        require_starttls=True,
        auth_required=True,
        authenticator=handler.authenticate,
    ) as server:
        good = smtp_settings(
            settings,
            store,
            server.port,
            smtp_starttls=True,
            smtp_username="bureau",
            smtp_password=SecretStr("s3cret"),
        )
        add_alerts(store, good, sub, 1)
        wrong = good.model_copy(update={"smtp_password": SecretStr("nope")})
        failed = run_deliver_stage(StageContext(settings=wrong, store=store, now=LATER))
        # a refused login is the server's problem, not the message's: no attempt is charged
        assert failed.counts["sent"] == 0 and failed.counts["server_unavailable"] == 1
        (row,) = rows(store)
        assert row.attempts == 0 and row.status == "pending"
        assert "535" in row.last_error  # the server's answer is kept
        ok = run_deliver_stage(
            StageContext(settings=good, store=store, now=LATER + dt.timedelta(hours=1))
        )
    assert ok.counts["sent"] == 1 and len(server.received) == 1


def test_server_down_then_back_loses_nothing(store, settings):
    from tests.smtp_support import SmtpServer, free_port

    port = free_port()
    recipients = [f"r{i}@example.com" for i in range(6)]
    sub = add_enterprise(store, recipients=recipients)
    cfg = smtp_settings(settings, store, port)
    alert_ids = add_alerts(store, cfg, sub, 2)
    down = run_deliver_stage(StageContext(settings=cfg, store=store, now=LATER))
    # four sends were in flight (one per pooled connection) and could not connect; two were
    # never tried: the outage is charged to nobody, every row is due again at once
    assert down.counts["sent"] == 0 and down.counts["retrying"] == 0
    assert down.counts["server_unavailable"] == 1 and "unavailable" in down.note
    assert sorted(r.status for r in rows(store)) == ["pending"] * 12
    assert {r.attempts for r in rows(store)} == {0}
    assert sum("Connect" in (r.last_error or "") for r in rows(store)) == 8
    server = SmtpServer(port=port).start()
    try:
        soon = run_deliver_stage(
            StageContext(settings=cfg, store=store, now=LATER + dt.timedelta(seconds=1))
        )
        back = run_deliver_stage(
            StageContext(settings=cfg, store=store, now=LATER + dt.timedelta(hours=1))
        )
    finally:
        server.stop()
    assert soon.counts["sent"] == 12  # nothing was pushed back by the outage
    assert back.counts["sent"] == 0
    assert sorted(r.rcpt_tos[0] for r in server.received) == recipients
    assert all(sorted(r.alert_ids) == alert_ids for r in server.received)
    assert {r.status for r in rows(store)} == {"sent"}


def test_refused_recipient_is_a_dead_letter_with_the_server_answer(store, settings):
    handler = RecordingHandler(
        refuse={
            "gone@example.com": "550 5.1.1 <gone@example.com>: no such user",
            "full@example.com": "452 4.2.2 mailbox full",
        }
    )
    sub = add_enterprise(
        store, recipients=["ok@example.com", "gone@example.com", "full@example.com"]
    )
    with smtp_server(handler) as server:
        cfg = smtp_settings(settings, store, server.port)
        add_alerts(store, cfg, sub, 1)
        result = run_deliver_stage(StageContext(settings=cfg, store=store, now=LATER))
    assert result.counts == {**result.counts, "sent": 1, "dead": 1, "retrying": 1}
    by_recipient = {r.recipient: r for r in rows(store)}
    assert by_recipient["ok@example.com"].status == "sent"
    assert by_recipient["gone@example.com"].status == "dead"
    assert "550 5.1.1" in by_recipient["gone@example.com"].last_error
    full = by_recipient["full@example.com"]
    assert full.status == "retrying" and "452" in full.last_error and full.due_at > LATER
    assert [r.rcpt_tos for r in server.received] == [["ok@example.com"]]


def test_retries_stop_after_max_attempts(store, settings):
    handler = RecordingHandler(refuse={"full@example.com": "452 4.2.2 mailbox full"})
    sub = add_enterprise(store, recipients=["full@example.com"])
    with smtp_server(handler) as server:
        cfg = smtp_settings(
            settings, store, server.port, max_send_attempts=3, outbox_max_age_hours=48
        )
        add_alerts(store, cfg, sub, 1)
        now = LATER
        for _ in range(3):
            run_deliver_stage(StageContext(settings=cfg, store=store, now=now))
            now += dt.timedelta(days=1)
    (row,) = rows(store)
    assert (
        row.status == "dead" and row.attempts == 3 and "gave up after 3 attempts" in row.last_error
    )


def test_send_has_an_overall_timeout(store, settings):
    handler = RecordingHandler(hold_at=1)  # accepts the data, never answers
    sub = add_enterprise(store)
    with smtp_server(handler) as server:
        cfg = smtp_settings(settings, store, server.port, smtp_timeout_seconds=0.5)
        add_alerts(store, cfg, sub, 1)
        result = run_deliver_stage(StageContext(settings=cfg, store=store, now=LATER))
    assert result.counts["retrying"] == 1
    assert "no answer within 0.5s" in rows(store)[0].last_error


HOSTILE = '<script>alert("x")</script><img src=x onerror=alert(1)>\r\nBcc: victim@evil.test'


def test_hostile_text_is_escaped_and_cannot_add_headers(store, settings):
    sub = add_enterprise(
        store, name="恶意公司\r\nBcc: boss@evil.test", recipients=["ip@example.com"]
    )
    explanation = {
        "rule_title": HOSTILE,
        "title": HOSTILE,
        "terms": [HOSTILE],
        "matched": {"<b>cond</b>": HOSTILE},
        "number": 'CN1"><script>1</script>',
        "unexpected_key": {"nested": [HOSTILE]},
    }
    with smtp_server() as server:
        cfg = smtp_settings(settings, store, server.port)
        add_alerts(store, cfg, sub, 1, title=HOSTILE, explanation=explanation)
        run_deliver_stage(StageContext(settings=cfg, store=store, now=LATER))
    (received,) = server.received
    assert received.rcpt_tos == ["ip@example.com"]
    msg = received.message
    assert msg["Bcc"] is None and "\n" not in msg["Subject"]
    html = body(msg, "html")
    assert "<script" not in html and "<img" not in html and "<b>cond" not in html
    assert "&lt;script&gt;" in html and "unexpected_key" in html
    assert 'href="https://worldwide.espacenet.com/patent/search?q=pn%3DCN1script1script"' in html

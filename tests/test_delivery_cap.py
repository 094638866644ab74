"""Issue 13.7: one mail holds at most `max_cards_per_mail` alert cards and says how many more
follow; the rest of the batch goes out in the next mail of the same run (real SMTP server)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from tests.smtp_support import NOW, add_alerts, add_enterprise, body, smtp_server, smtp_settings
from warning.delivery.stage import run_deliver_stage
from warning.pipeline import StageContext
from warning.store.models import OutboxMessage

LATER = NOW + dt.timedelta(minutes=10)


def test_a_big_batch_is_split_into_capped_mails_that_say_how_many_more(store, settings):
    sub = add_enterprise(store, recipients=["ip@example.com"])
    with smtp_server() as server:
        cfg = smtp_settings(settings, store, server.port, max_cards_per_mail=3)
        alert_ids = add_alerts(store, cfg, sub, 7)
        result = run_deliver_stage(StageContext(settings=cfg, store=store, now=LATER))
    assert result.counts["sent"] == 7 and result.counts["messages"] == 3
    received = server.received
    assert [len(r.alert_ids) for r in received] == [3, 3, 1]
    assert sorted(a for r in received for a in r.alert_ids) == alert_ids
    texts = [body(r.message, "plain") for r in received]
    assert "另有 4 条预警将在下一封邮件中发送" in texts[0]
    assert "另有 1 条预警将在下一封邮件中发送" in texts[1]
    assert "下一封邮件" not in texts[2]
    assert "另有 <b>4</b> 条预警" in body(received[0].message, "html")
    with store.session() as session:
        assert set(session.scalars(select(OutboxMessage.status))) == {"sent"}


def test_below_the_cap_nothing_changes(store, settings):
    sub = add_enterprise(store, recipients=["ip@example.com"])
    with smtp_server() as server:
        cfg = smtp_settings(settings, store, server.port, max_cards_per_mail=3)
        add_alerts(store, cfg, sub, 3)
        result = run_deliver_stage(StageContext(settings=cfg, store=store, now=LATER))
    assert result.counts["messages"] == 1
    assert "下一封邮件" not in body(server.received[0].message, "plain")

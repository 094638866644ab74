"""A deliverer killed mid-batch loses nothing and re-sends under the same Message-ID;
several deliverers at once send nothing twice (SQLite and PostgreSQL)."""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
import threading
from collections import defaultdict

from sqlalchemy import select

from tests.smtp_support import (
    NOW,
    RecordingHandler,
    add_alerts,
    add_enterprise,
    smtp_server,
    smtp_settings,
)
from warning.delivery.deliverer import deliver, lease_seconds
from warning.delivery.transport import SmtpTransport
from warning.store.engine import Store
from warning.store.models import OutboxMessage

LATER = NOW + dt.timedelta(minutes=10)


def statuses(store):
    with store.session() as session:
        return sorted(session.scalars(select(OutboxMessage.status)))


def test_killed_mid_batch_resends_in_flight_message_with_same_message_id(store, settings, tmp_path):
    recipients = [f"r{i}@example.com" for i in range(6)]
    sub = add_enterprise(store, recipients=recipients)
    handler = RecordingHandler(hold_at=3)  # the 3rd message is received but never acknowledged
    with smtp_server(handler) as server:
        cfg = smtp_settings(settings, store, server.port)
        alert_ids = add_alerts(store, cfg, sub, 2)
        env = {k: v for k, v in os.environ.items() if not k.startswith("IPWARN_")}
        env.update(
            IPWARN_DATABASE_URL=store.url,
            IPWARN_SMTP_HOST="127.0.0.1",
            IPWARN_SMTP_PORT=str(server.port),
            IPWARN_DATA_DIR=str(tmp_path / "var"),
            IPWARN_MAIL_FROM=cfg.mail_from,
            IPWARN_SMTP_TIMEOUT_SECONDS="30",
            IPWARN_LOG_LEVEL="WARNING",
        )
        proc = subprocess.Popen(
            [
                sys.executable,
                "-c",
                "from warning.cli import main; main()",
                "deliver",
                "--now",
                LATER.isoformat(),
            ],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        try:
            server.wait_for(3)
        finally:
            proc.send_signal(signal.SIGKILL)
            proc.wait(10)
        assert statuses(store).count("sent") < 12  # killed mid-batch
        held = server.received[2]
        handler.release.set()
        before = len(server.received)
        # a second deliverer within the lease leaves the claimed rows alone...
        deliver(store, cfg, SmtpTransport(cfg), now=LATER + dt.timedelta(minutes=1))
        assert len(server.received) == before
        # ...and takes them over once the lease ran out
        after_lease = LATER + dt.timedelta(seconds=lease_seconds(cfg) + 60)
        deliver(store, cfg, SmtpTransport(cfg), now=after_lease)
    assert statuses(store) == ["sent"] * 12
    ids_by_recipient: dict[str, set[str]] = defaultdict(set)
    copies: dict[str, int] = defaultdict(int)
    for received in server.received:
        assert sorted(received.alert_ids) == alert_ids  # nothing lost
        ids_by_recipient[received.rcpt_tos[0]].add(received.message_id)
        copies[received.message_id] += 1
    assert sorted(ids_by_recipient) == recipients
    assert all(len(ids) == 1 for ids in ids_by_recipient.values())  # a resend reuses the Message-ID
    assert len(copies) == 6 and max(copies.values()) == 2  # a message comes at most twice
    assert copies[held.message_id] == 2  # the one in flight when the process died


def test_concurrent_deliverers_send_each_message_once(store, settings):
    with smtp_server() as server:
        cfg = smtp_settings(settings, store, server.port)
        expected = {}
        for i in range(30):
            sub = add_enterprise(store, f"ent-{i}", recipients=[f"e{i}@example.com"])
            expected[f"e{i}@example.com"] = add_alerts(store, cfg, sub, 2, start=i * 2)
        stores = [Store(store.url) for _ in range(4)]
        errors: list[BaseException] = []

        def work(s: Store) -> None:
            try:
                deliver(s, cfg, SmtpTransport(cfg), now=LATER)
            except BaseException as exc:  # surfaced below
                errors.append(exc)

        threads = [threading.Thread(target=work, args=(s,)) for s in stores]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        for s in stores:
            s.dispose()
    assert not errors
    got = {r.rcpt_tos[0]: sorted(r.alert_ids) for r in server.received}
    assert len(server.received) == 30 and got == expected
    assert len({r.message_id for r in server.received}) == 30
    assert statuses(store) == ["sent"] * 60

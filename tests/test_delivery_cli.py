"""`ipwarn deliver`, `ipwarn outbox` and `ipwarn silence` as an operator uses them."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from tests.smtp_support import NOW, add_alerts, add_enterprise, smtp_settings
from warning.cli import cli
from warning.errors import InputError
from warning.store.models import OutboxMessage


@pytest.fixture
def invoke(store, settings, monkeypatch):
    monkeypatch.setenv("IPWARN_DATABASE_URL", store.url)
    monkeypatch.setenv("IPWARN_DATA_DIR", str(settings.data_dir))
    runner = CliRunner()

    def _invoke(*args: str):
        return runner.invoke(cli, list(args), catch_exceptions=True)

    return _invoke


def test_deliver_writes_eml_files_and_outbox_shows_counts(store, settings, invoke):
    sub = add_enterprise(store, recipients=["a@example.com", "not an address"])
    add_alerts(store, smtp_settings(settings, store, None), sub, 2, now=NOW)
    later = (NOW + dt.timedelta(minutes=10)).isoformat()
    result = invoke("deliver", "--now", later)
    assert result.exit_code == 0, result.output
    assert "sent 2 rows in 1 messages" in result.output and ".eml" in result.output
    out = invoke("outbox", "--json", "--dead")
    data = json.loads(out.stdout)
    assert data["counts"]["sent"] == 2 and data["counts"]["dead"] == 2
    assert data["counts"]["pending"] == 0 and data["oldest_pending_age_seconds"] is None
    assert "invalid recipient address" in data["dead_letters"][0]["error"]
    text = invoke("outbox")
    assert "dead" in text.output and "oldest pending: -" in text.output
    requeued = invoke("outbox", "--requeue-dead", "all", "--json")
    assert json.loads(requeued.stdout)["requeued"] == 2
    with store.session() as session:
        assert sorted(session.scalars(select(OutboxMessage.status))) == [
            "pending",
            "pending",
            "sent",
            "sent",
        ]


def test_silence_add_list_remove(store, settings, invoke):
    sub = add_enterprise(store)
    add_alerts(store, smtp_settings(settings, store, None), sub, 1)  # stores rule steel.competitor
    added = invoke(
        "silence",
        "add",
        "--rule",
        "steel.competitor",
        "--enterprise",
        "ent-1",
        "--for",
        "7d",
        "--reason",
        "误报排查",
    )
    assert added.exit_code == 0, added.output
    assert "silence #1: rule steel.competitor for ent-1" in added.output
    listed = json.loads(invoke("silence", "list", "--json").stdout)
    assert listed[0]["target"] == "steel.competitor" and listed[0]["enterprise"] == "ent-1"
    assert invoke("silence", "remove", "1").exit_code == 0
    assert invoke("silence", "list").output.strip() == "no silences"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--rule", "r1"], "exactly one of --until"),
        (["--rule", "r1", "--until", "2001-01-01"], "in the past"),
        (["--rule", "r1", "--for", "soon"], "not a duration"),
        (["--until", "2099-01-01"], "give --rule, --family or --enterprise"),
        (["--enterprise", "nobody", "--for", "1d"], "unknown enterprise"),
    ],
)
def test_silence_add_rejects_bad_input_with_a_clear_message(store, invoke, args, message):
    result = invoke("silence", "add", *args)
    assert isinstance(result.exception, InputError)
    assert message in str(result.exception)


def test_deliver_fails_loudly_when_the_server_is_down_and_keeps_the_mail(
    store, settings, invoke, monkeypatch
):
    from tests.smtp_support import free_port
    from warning.errors import DeliveryError

    monkeypatch.setenv("IPWARN_SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("IPWARN_SMTP_PORT", str(free_port()))
    sub = add_enterprise(store)
    add_alerts(store, smtp_settings(settings, store, None), sub, 1, now=NOW)
    result = invoke("deliver", "--now", (NOW + dt.timedelta(minutes=10)).isoformat())
    assert isinstance(result.exception, DeliveryError)
    # the outage is not the message's fault: it is kept as it was, no attempt charged
    assert "retrying 0" in result.output and "mail server unavailable" in result.output
    with store.session() as session:
        row = session.scalars(select(OutboxMessage)).one()
    assert (row.status, row.attempts) == ("pending", 0) and "Connect" in (row.last_error or "")


def test_deliver_flush_sends_what_waits_for_a_digest_or_quiet_hours(store, settings, invoke):
    daily = add_enterprise(store, "ent-d", frequency="daily", recipients=["d@example.com"])
    night = add_enterprise(store, "ent-n", quiet=("00:00", "23:59"), recipients=["n@example.com"])
    cfg = smtp_settings(settings, store, None)
    add_alerts(store, cfg, daily, 2, now=NOW)
    add_alerts(store, cfg, night, 1, now=NOW, start=10)
    later = (NOW + dt.timedelta(minutes=10)).isoformat()
    assert "sent 0 rows" in invoke("deliver", "--now", later).output
    flushed = invoke("deliver", "--now", later, "--flush")
    assert "sent 3 rows in 2 messages" in flushed.output, flushed.output


@pytest.mark.parametrize("refusal", ["not offered", "454 answer"])
def test_starttls_refused_stops_the_run_with_exit_1(
    store, settings, monkeypatch, capsys, tmp_path, refusal
):
    """docs/delivery.md: a TLS failure stops the run and `ipwarn deliver` exits 1 (issue 13.5)."""
    from aiosmtpd.controller import Controller
    from aiosmtpd.smtp import SMTP as AioSMTP

    from tests.smtp_support import RecordingHandler, free_port, self_signed_cert, server_tls_context
    from warning.cli import main

    class Refuses(AioSMTP):
        async def smtp_STARTTLS(self, arg: str) -> None:
            await self.push("454 4.7.0 TLS not available due to temporary reason")

    class RefusingController(Controller):
        def factory(self) -> AioSMTP:
            return Refuses(
                self.handler, tls_context=server_tls_context(*self_signed_cert(tmp_path))
            )

    sub = add_enterprise(store)
    add_alerts(store, smtp_settings(settings, store, None), sub, 3, now=NOW, start=0)
    add_alerts(
        store,
        smtp_settings(settings, store, None),
        sub,
        2,
        now=NOW + dt.timedelta(hours=1),
        start=3,
    )
    handler, port = RecordingHandler(), free_port()
    kind = RefusingController if refusal == "454 answer" else Controller
    controller = kind(handler, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        monkeypatch.setenv("IPWARN_DATABASE_URL", store.url)
        monkeypatch.setenv("IPWARN_DATA_DIR", str(settings.data_dir))
        monkeypatch.setenv("IPWARN_SMTP_HOST", "127.0.0.1")
        monkeypatch.setenv("IPWARN_SMTP_PORT", str(port))
        monkeypatch.setenv("IPWARN_SMTP_STARTTLS", "true")
        monkeypatch.setenv("IPWARN_SMTP_CONNECTIONS", "1")
        later = (NOW + dt.timedelta(hours=2)).isoformat()
        with pytest.raises(SystemExit) as stopped:
            main(["deliver", "--now", later])
        assert stopped.value.code == 1
    finally:
        controller.stop()
    assert handler.received == []
    out, err = capsys.readouterr()
    assert "STARTTLS refused" in out + err
    with store.session() as session:
        rows = list(session.scalars(select(OutboxMessage)))
    # a refused STARTTLS is an outage: every row waits, none is charged an attempt
    assert sorted(r.status for r in rows) == ["pending"] * 5
    assert all(r.attempts == 0 for r in rows)
    assert any("STARTTLS refused" in (r.last_error or "") for r in rows)

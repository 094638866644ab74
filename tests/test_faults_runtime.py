"""Fault injection with real processes, a real SMTP server (aiosmtpd) and both databases.

* a four-day SMTP outage with deliver every minute, then every hour: no row is charged an
  attempt, none dies, operators get one notice and `ipwarn status` names the outage; when the
  server is back every message goes out once (no duplicate Message-ID);
* a recipient whose server answers 451 for days: the row dies only once it has had
  ``max_send_attempts`` attempts *and* is ``outbox_max_age_hours`` old; dead letters are told
  to operators, shown by `status`, and `outbox --requeue-dead` brings them back;
* ``kill -9`` of a deliverer: its rows are taken over after a lease sized to what it claimed;
* leader election on PostgreSQL: the lock connection is idle (not in a transaction); killing
  the leader's backend makes it step down and the standby take over, never two schedulers
  running jobs at once; a standby whose backend is killed reconnects instead of crashing;
* ``kill -9`` of `ipwarn crawl` and of `ipwarn serve` leaves no child running, and the next
  start closes their ``running`` rows as ``abandoned``.
"""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import create_engine, select, text

from tests.conftest import PG_URL, _pg_store, settings_for
from tests.crawl_support import LoopbackServer, serving
from tests.fault_support import LogTail, child_env, descendants, proc_state, stop, wait_until
from tests.smtp_support import (
    NOW,
    RecordingHandler,
    add_alerts,
    add_enterprise,
    free_port,
    smtp_server,
    smtp_settings,
)
from warning.cli import cli
from warning.delivery.deliverer import LEASE_GRACE_SECONDS, deliver
from warning.delivery.outage import current_outage
from warning.delivery.stage import run_deliver_stage
from warning.delivery.transport import SmtpTransport
from warning.pipeline import StageContext
from warning.store.engine import Store
from warning.store.models import CrawlRun, JobRun, OutboxMessage

pytestmark = pytest.mark.faults

LATER = NOW + dt.timedelta(minutes=10)


# --- helpers ----------------------------------------------------------------------------------


def outbox(store: Store) -> list[OutboxMessage]:
    with store.session() as session:
        return list(session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))


def status_json(store: Store, settings, monkeypatch) -> dict[str, Any]:
    """`ipwarn status --json` as an operator runs it (a new start: it closes abandoned rows)."""
    monkeypatch.setenv("IPWARN_DATABASE_URL", store.url)
    monkeypatch.setenv("IPWARN_DATA_DIR", str(settings.data_dir))
    result = CliRunner().invoke(cli, ["status", "--json"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return dict(json.loads(result.stdout))


def smtp_env(store: Store, data_dir: Path, cfg, **extra: str) -> dict[str, str]:
    """The environment of an `ipwarn` child that mails through ``cfg``'s SMTP server."""
    return child_env(
        store,
        data_dir,
        IPWARN_SMTP_HOST=str(cfg.smtp_host),
        IPWARN_SMTP_PORT=str(cfg.smtp_port),
        IPWARN_SMTP_TIMEOUT_SECONDS=f"{cfg.smtp_timeout_seconds:g}",
        IPWARN_MAIL_FROM=cfg.mail_from,
        **extra,
    )


# --- 3. a long SMTP outage --------------------------------------------------------------------


def test_long_outage_costs_no_attempt_kills_no_row_and_everything_goes_out_once(
    store, settings, monkeypatch
):
    port = free_port()  # nothing listens there: the server is down
    recipients = [f"r{i}@example.com" for i in range(12)]
    sub = add_enterprise(store, recipients=recipients)
    cfg = smtp_settings(
        settings, store, port, operator_recipients=["ops@example.com"], smtp_timeout_seconds=2.0
    )
    alert_ids = add_alerts(store, cfg, sub, 2)  # 24 rows, 12 emails: more than 4 connections
    # deliver every 2 minutes for 70 minutes (with deliver every minute the old rules had
    # killed every row by minute 69), then every 6 hours until the outage is four days old
    times = [LATER + dt.timedelta(minutes=m) for m in range(0, 71, 2)]
    times += [LATER + dt.timedelta(hours=h) for h in range(6, 97, 6)]
    for now in times:
        result = run_deliver_stage(StageContext(settings=cfg, store=store, now=now))
        assert result.counts["server_unavailable"] == 1, result.counts
        assert result.counts["dead"] == result.counts["retrying"] == result.counts["sent"] == 0
    alerts = [r for r in outbox(store) if r.kind == "alert"]
    assert len(alerts) == 24
    assert {(r.status, r.attempts) for r in alerts} == {("pending", 0)}  # nothing charged
    ops = [r for r in outbox(store) if r.kind == "operator"]
    assert len(ops) == 1, [r.payload["subject"] for r in ops]  # one notice per outage
    assert "邮件服务器不可用" in ops[0].payload["subject"] and ops[0].status == "pending"
    with store.session() as session:
        outage = current_outage(session)
    assert outage is not None and outage.runs == len(times) and outage.notified
    assert outage.since == times[0] and outage.seconds == (times[-1] - times[0]).total_seconds()

    status = status_json(store, cfg, monkeypatch)
    assert status["mail_outage"]["runs"] == len(times)
    assert any("mail server has been unavailable since" in p for p in status["problems"])

    back_at = times[-1] + dt.timedelta(minutes=1)
    with smtp_server(port=port) as server:
        back = run_deliver_stage(StageContext(settings=cfg, store=store, now=back_at))
    # 24 alert rows in 12 emails, the outage notice, then the "server is back" notice
    assert back.counts["sent"] == 26 and back.counts["server_unavailable"] == 0
    assert {r.status for r in outbox(store)} == {"sent"}
    ids = [r.message_id for r in server.received]
    assert len(ids) == len(set(ids)) == 14  # 0 duplicate Message-IDs
    by_rcpt = {r.rcpt_tos[0]: sorted(r.alert_ids) for r in server.received if r.alert_ids}
    assert by_rcpt == dict.fromkeys(recipients, alert_ids)  # 0 alerts lost
    to_ops = [r.message["Subject"] for r in server.received if r.rcpt_tos == ["ops@example.com"]]
    assert len(to_ops) == 2 and "已恢复" in to_ops[1]
    status = status_json(store, cfg, monkeypatch)
    assert status["mail_outage"] is None
    assert not any("unavailable" in p for p in status["problems"])


def test_rows_die_only_after_their_attempts_and_their_age_and_operators_hear_of_it(
    store, settings, monkeypatch
):
    handler = RecordingHandler(
        refuse={
            "busy@example.com": "451 4.3.0 mailbox busy, try again later",
            "gone@example.com": "550 5.1.1 <gone@example.com>: no such user",
        }
    )
    sub = add_enterprise(
        store, recipients=["ok@example.com", "busy@example.com", "gone@example.com"]
    )
    with smtp_server(handler) as server:
        cfg = smtp_settings(
            settings, store, server.port, max_send_attempts=3, operator_recipients=["ops@x.test"]
        )
        add_alerts(store, cfg, sub, 1)
        first = run_deliver_stage(StageContext(settings=cfg, store=store, now=LATER))
        assert first.counts["dead"] == 1 and first.counts["retrying"] == 1  # 550: final at once
        seen: list[tuple[str, int, float]] = []
        now = LATER
        while now < NOW + dt.timedelta(hours=84):
            now += dt.timedelta(hours=7)  # longer than any back-off (capped at 6 h)
            run_deliver_stage(StageContext(settings=cfg, store=store, now=now))
            (busy,) = [r for r in outbox(store) if r.recipient == "busy@example.com"]
            seen.append((busy.status, busy.attempts, (now - NOW).total_seconds() / 3600))
        # each sent in the run that made the dead letters (hourly "outbox stale" notices too)
        dead_notices = [
            r.message
            for r in server.received
            if r.rcpt_tos == ["ops@x.test"] and "死信" in r.message["Subject"]
        ]
        handler.refuse.clear()
        status = status_json(store, cfg, monkeypatch)
        monkeypatch.setenv("IPWARN_DATABASE_URL", store.url)
        requeued = CliRunner().invoke(cli, ["outbox", "--requeue-dead", "all", "--json"])
        assert json.loads(requeued.stdout)["requeued"] == 2
        again = run_deliver_stage(  # requeued rows are due at the real clock's now
            StageContext(settings=cfg, store=store, now=now + dt.timedelta(minutes=1), force=True)
        )
    # still retrying long after its 3 attempts were used up, dead once 72 h old as well
    for state, attempts, age_hours in seen:
        assert (state == "dead") == (attempts >= 3 and age_hours >= 72), seen
    assert any(s == "retrying" and a > 3 for s, a, _ in seen) and seen[-1][0] == "dead"
    assert len(dead_notices) == 2
    assert "gone@example.com" in dead_notices[0].get_body(("plain",)).get_content()
    assert "busy@example.com" in dead_notices[1].get_body(("plain",)).get_content()
    assert any("2 dead letter(s)" in p for p in status["problems"])
    assert again.counts["sent"] == 2  # the manual override still works
    got = sorted(r.rcpt_tos[0] for r in server.received if r.alert_ids)
    assert got == ["busy@example.com", "gone@example.com", "ok@example.com"]


# --- 6. the lease of a killed deliverer -----------------------------------------------------


def test_a_killed_deliverer_holds_its_rows_only_for_the_lease_of_what_it_claimed(
    store, settings, tmp_path
):
    sub = add_enterprise(store, recipients=["one@example.com"])
    handler = RecordingHandler(hold_at=1)  # received, never acknowledged
    with smtp_server(handler) as server:
        cfg = smtp_settings(settings, store, server.port, smtp_timeout_seconds=30.0)
        add_alerts(store, cfg, sub, 2)
        env = smtp_env(store, tmp_path / "var", cfg)
        proc = subprocess.Popen(
            [sys.executable, "-m", "warning", "deliver", "--now", LATER.isoformat()],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            server.wait_for(1)
        finally:
            proc.kill()
            proc.wait(10)
        (row, _) = outbox(store)
        assert row.status == "sending" and row.lease_until is not None
        # one email claimed: one send timeout plus the grace (was 26 timeouts + 60 s = 27 min)
        lease = (row.lease_until - row.claimed_at).total_seconds()
        assert lease == 30.0 + LEASE_GRACE_SECONDS
        handler.release.set()
        within = deliver(store, cfg, SmtpTransport(cfg), now=LATER + dt.timedelta(seconds=60))
        assert within.sent == 0
        after = deliver(store, cfg, SmtpTransport(cfg), now=LATER + dt.timedelta(seconds=lease + 1))
    assert after.sent == 2 and {r.status for r in outbox(store)} == {"sent"}
    assert len(server.received) == 2  # the one in flight, re-sent once...
    assert len({r.message_id for r in server.received}) == 1  # ...under the same Message-ID


# --- 5. leader election on PostgreSQL ---------------------------------------------------------


@pytest.fixture
def pg_store() -> Iterator[Store]:
    yield from _pg_store()


def lock_backend(admin, serve_pid: int) -> dict[str, Any] | None:
    with admin.connect() as conn:
        row = (
            conn.execute(
                text(
                    "SELECT pid, state, backend_xmin, xact_start FROM pg_stat_activity "
                    "WHERE application_name = :name"
                ),
                {"name": f"ipwarn-scheduler-{serve_pid}"},
            )
            .mappings()
            .first()
        )
    return dict(row) if row else None


def terminate(admin, backend_pid: int) -> None:
    with admin.connect() as conn:
        assert conn.execute(text("SELECT pg_terminate_backend(:p)"), {"p": backend_pid}).scalar()


@pytest.mark.postgres
def test_killing_the_leaders_backend_leaves_exactly_one_active_scheduler(
    pg_store, settings, tmp_path
):
    admin = create_engine(PG_URL)
    env = child_env(
        pg_store,
        tmp_path / "var",
        IPWARN_DELIVER_INTERVAL_SECONDS="1",
        IPWARN_PIPELINE_INTERVAL_MINUTES="600",
        IPWARN_LEADER_CHECK_SECONDS="0.2",
        IPWARN_LEADER_RETRY_MAX_SECONDS="1",
    )
    cmd = [sys.executable, "-m", "warning", "serve", "--poll-seconds", "0.3"]

    def start() -> tuple[subprocess.Popen[str], LogTail]:
        proc = subprocess.Popen(
            cmd, env=env, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
        )
        return proc, LogTail(proc)

    a, a_log = start()
    b: subprocess.Popen[str] | None = None
    try:
        a_log.wait_for("scheduler.started")
        b, b_log = start()
        b_log.wait_for("scheduler.standby")
        # the lock is held outside any transaction: no xmin horizon pinned
        for proc in (a, b):
            backend = wait_until(lambda p=proc: lock_backend(admin, p.pid), what="lock backend")
            assert backend["state"] == "idle", backend
            assert backend["backend_xmin"] is None and backend["xact_start"] is None

        def jobs() -> list[JobRun]:
            with pg_store.session() as session:
                return list(
                    session.scalars(
                        select(JobRun).where(JobRun.job == "job:deliver").order_by(JobRun.id)
                    )
                )

        wait_until(lambda: any(j.status != "running" for j in jobs()), what="a job of the leader")
        terminate(admin, lock_backend(admin, a.pid)["pid"])
        stepped = a_log.wait_for("scheduler.stepped_down")
        stepped_at = dt.datetime.fromisoformat(a_log.at(stepped)["timestamp"])
        b_log.wait_for("scheduler.started")
        a_log.wait_for("scheduler.standby", after=stepped)  # a standby now, not crashed
        wait_until(
            lambda: (
                sum(j.detail["scheduler_pid"] == b.pid and j.status == "ok" for j in jobs()) >= 2
            ),
            what="two jobs of the new leader",
        )
        # the old leader starts nothing once it knows, and its jobs never overlap the new one's
        runs = jobs()
        mine = [j for j in runs if j.detail["scheduler_pid"] == a.pid]
        theirs = [j for j in runs if j.detail["scheduler_pid"] == b.pid]
        assert mine and theirs and len(mine) + len(theirs) == len(runs)
        assert all(j.started_at < stepped_at and j.status != "running" for j in mine)
        first_b = min(j.started_at for j in theirs)
        assert all(j.finished_at is not None and j.finished_at <= first_b for j in mine)

        # a standby whose backend dies reconnects with back-off instead of crashing
        mark = len(a_log.records)
        terminate(admin, wait_until(lambda: lock_backend(admin, a.pid), what="standby")["pid"])
        a_log.wait_for("scheduler.reconnect", after=mark)
        a_log.wait_for("scheduler.standby", after=mark)
        assert a.poll() is None
        assert stop(b) == 0
        a_log.wait_for("scheduler.started", after=mark)  # the standby takes over
    finally:
        for proc in (a, b):
            if proc is not None:
                stop(proc)
        admin.dispose()
    assert a.returncode == 0
    assert "Traceback" not in a_log.text() and "Traceback" not in b_log.text()


# --- 6. orphans and stuck rows ----------------------------------------------------------------


@pytest.fixture(scope="module")
def http() -> Iterator[LoopbackServer]:
    yield from serving()


def test_kill_9_of_crawl_kills_its_spider_and_the_next_start_closes_the_run(
    http, store, settings, tmp_path, monkeypatch
):
    token = uuid.uuid4().hex[:10]
    env = child_env(
        store,
        tmp_path / "var",
        IPWARN_SOURCES__USPTO__BASE_URL=http.url(token, "slow/"),  # a package, then a hang
        IPWARN_SOURCES__USPTO__DOWNLOAD_DELAY="0",
        IPWARN_SOURCES__USPTO__TIMEOUT_SECONDS="120",
    )
    parent = subprocess.Popen(
        [sys.executable, "-m", "warning", "crawl", "uspto"],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:

        def spider() -> list[int]:
            return [p for p, cmd in descendants(parent.pid) if "crawlers.child" in cmd]

        (child,) = wait_until(spider, what="the spider process")

        def stored_package() -> bool:
            with store.session() as session:
                run = session.scalars(select(CrawlRun)).first()
                return run is not None and run.new >= 3

        wait_until(stored_package, timeout=60, what="the first file stored")  # now it hangs
    finally:
        parent.kill()
        parent.wait(10)
    wait_until(lambda: proc_state(child) is None, timeout=10, what="the orphan to die")
    with store.session() as session:
        (run,) = session.scalars(select(CrawlRun))
        assert run.status == "running"  # nobody was left to close it
    status = status_json(store, settings_for(store, settings), monkeypatch)
    with store.session() as session:
        (run,) = session.scalars(select(CrawlRun))
    assert run.status == "abandoned" and run.finished_at is not None
    assert f":{parent.pid}:" in (run.error or "") and run.new == 3  # what it stored is kept
    assert not any(j["status"] == "running" for j in status["jobs"])


def test_kill_9_of_serve_kills_its_job_and_the_mail_in_flight_goes_out_once(
    sqlite_store, settings, tmp_path, monkeypatch
):
    store = sqlite_store
    sub = add_enterprise(store, recipients=["one@example.com"])
    handler = RecordingHandler(hold_at=1)
    with smtp_server(handler) as server:
        cfg = smtp_settings(settings, store, server.port, smtp_timeout_seconds=30.0)
        add_alerts(store, cfg, sub, 1)
        env = smtp_env(
            store,
            tmp_path / "var",
            cfg,
            IPWARN_DELIVER_INTERVAL_SECONDS="1",
            IPWARN_PIPELINE_INTERVAL_MINUTES="600",
        )
        serve = subprocess.Popen(
            [sys.executable, "-m", "warning", "serve"],
            env=env,
            cwd=tmp_path,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            server.wait_for(1, timeout=40)  # the deliver job is mid-send
            (job,) = [p for p, cmd in descendants(serve.pid) if "--stage deliver" in cmd]
        finally:
            serve.kill()
            serve.wait(10)
        wait_until(lambda: proc_state(job) is None, timeout=10, what="the job child to die")
        with store.session() as session:
            running = sorted(r.job for r in session.scalars(select(JobRun)))
        assert running == ["job:deliver", "stage:deliver"]
        status_json(store, cfg, monkeypatch)  # the next start
        with store.session() as session:
            closed = {r.job: r for r in session.scalars(select(JobRun))}
        assert {r.status for r in closed.values()} == {"abandoned"}
        assert f":{serve.pid}:" in (closed["job:deliver"].error or "")
        (row,) = outbox(store)
        assert row.status == "sending"
        handler.release.set()
        assert row.lease_until is not None
        resent = deliver(
            store, cfg, SmtpTransport(cfg), now=row.lease_until + dt.timedelta(seconds=1)
        )
    assert resent.sent == 1 and outbox(store)[0].status == "sent"
    assert len(server.received) == 2 and len({r.message_id for r in server.received}) == 1

"""Fault figures: a long SMTP outage over a 540-row backlog, and leader takeover on PostgreSQL.

1. Outage (SQLite, real aiosmtpd when the server is back): 540 outbox rows (60 enterprises x
   3 recipients x 3 alerts = 180 emails), the server down for ``--days`` (4) with deliver every
   minute for 3 hours, then every 15 minutes (simulated clock). Counted: attempts charged,
   dead rows, operator notices, ms per run while down; then the server comes back: time to
   drain, emails, duplicate Message-IDs.
2. Takeover (PostgreSQL, if it answers): two real `serve` processes (leader check 1 s, standby
   poll 1 s); the lock backend of the current leader is terminated ``--rounds`` (3) times.
   Measured from ``pg_terminate_backend``: until the old leader stepped down, until the
   standby started leading. Ratios are against the configured interval.

    python -m benchmarks faults [--days 4] [--rounds 3]
"""

from __future__ import annotations

import argparse
import datetime as dt
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

from sqlalchemy import create_engine, func, select, text

from tests.conftest import PG_URL
from tests.fault_support import LogTail, child_env, stop, wait_until
from tests.smtp_support import NOW, add_alerts, add_enterprise, free_port, smtp_server
from warning.config import load_settings
from warning.delivery.stage import run_deliver_stage
from warning.logging import configure_logging
from warning.pipeline import StageContext
from warning.store import migrate
from warning.store.engine import Store
from warning.store.models import OutboxMessage


def outage(work: Path, days: float) -> None:
    store = Store(f"sqlite:///{work / 'outage.db'}")
    migrate.upgrade(store.engine)
    port = free_port()
    cfg = load_settings(
        None,
        data_dir=work,
        database_url=store.url,
        smtp_host="127.0.0.1",
        smtp_port=port,
        smtp_timeout_seconds=5.0,
        mail_from="ipwarn <alerts@bench.test>",
        operator_recipients=["ops@bench.test"],
    )
    for e in range(60):
        sub = add_enterprise(
            store, f"ent-{e}", recipients=[f"e{e}-{r}@bench.test" for r in range(3)]
        )
        add_alerts(store, cfg, sub, 3, start=e * 3)
    start = NOW + dt.timedelta(minutes=10)
    times = [start + dt.timedelta(minutes=m) for m in range(180)]
    t = times[-1]
    while t < start + dt.timedelta(days=days):
        t += dt.timedelta(minutes=15)
        times.append(t)
    t0 = time.perf_counter()
    for now in times:
        run_deliver_stage(StageContext(settings=cfg, store=store, now=now))
    down_ms = (time.perf_counter() - t0) / len(times) * 1000
    with store.session() as session:
        charged = session.scalar(select(func.sum(OutboxMessage.attempts))) or 0
        dead = session.scalar(select(func.count()).where(OutboxMessage.status == "dead")) or 0
        notices = session.scalar(select(func.count()).where(OutboxMessage.kind == "operator"))
    print(
        f"outage: {len(times)} deliver runs over {days:g} days on 540 rows: "
        f"{charged} attempts charged, {dead} dead, {notices} operator notice(s); "
        f"{down_ms:.0f} ms per run while down"
    )
    with smtp_server(port=port) as server:
        t0 = time.perf_counter()
        result = run_deliver_stage(
            StageContext(settings=cfg, store=store, now=times[-1] + dt.timedelta(minutes=1))
        )
        drain = time.perf_counter() - t0
    ids = [r.message_id for r in server.received]
    print(
        f"server back: {result.counts['sent']} rows in {len(ids)} emails in {drain:.1f} s "
        f"({len(ids) / drain:.0f} emails/s), duplicate Message-IDs: {len(ids) - len(set(ids))}"
    )
    store.dispose()


def takeover(work: Path, rounds: int) -> None:
    admin = create_engine(PG_URL, connect_args={"connect_timeout": 3})
    try:
        with admin.connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception as exc:
        print(f"takeover: skipped, PostgreSQL not reachable: {type(exc).__name__}")
        return
    schema = f"b_{uuid.uuid4().hex[:10]}"
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    store = Store(f"{PG_URL}?options=-csearch_path%3D{schema}")
    procs: list[subprocess.Popen[str]] = []
    try:
        migrate.upgrade(store.engine)
        env = child_env(
            store,
            work / "serve",
            IPWARN_LEADER_CHECK_SECONDS="1",
            IPWARN_DELIVER_INTERVAL_SECONDS="3600",
            IPWARN_PIPELINE_INTERVAL_MINUTES="600",
        )
        cmd = [sys.executable, "-m", "warning", "serve", "--poll-seconds", "1"]
        tails = {}
        for _ in range(2):
            proc = subprocess.Popen(
                cmd, env=env, cwd=work, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
            )
            procs.append(proc)
            tails[proc.pid] = LogTail(proc)
            if len(procs) == 1:
                tails[proc.pid].wait_for("scheduler.started")
        leader, standby = procs
        tails[standby.pid].wait_for("scheduler.standby")
        down, up = [], []
        for _ in range(rounds):
            marks = {pid: len(tail.records) for pid, tail in tails.items()}

            def backend(pid: int) -> int | None:
                with admin.connect() as conn:
                    return conn.execute(
                        text("SELECT pid FROM pg_stat_activity WHERE application_name = :n"),
                        {"n": f"ipwarn-scheduler-{pid}"},
                    ).scalar()

            target = wait_until(lambda p=leader.pid: backend(p), what="lock backend")
            killed_at = dt.datetime.now(dt.UTC)
            with admin.connect() as conn:
                conn.execute(text("SELECT pg_terminate_backend(:p)"), {"p": target})
            old, new = tails[leader.pid], tails[standby.pid]
            i = old.wait_for("scheduler.stepped_down", after=marks[leader.pid])
            j = new.wait_for("scheduler.started", after=marks[standby.pid])
            for values, tail, index in ((down, old, i), (up, new, j)):
                at = dt.datetime.fromisoformat(tail.at(index)["timestamp"])
                values.append((at - killed_at).total_seconds())
            old.wait_for("scheduler.standby", after=i)
            leader, standby = standby, leader
        print(
            f"takeover over {rounds} rounds (leader check 1 s, standby poll 1 s): old leader "
            f"stepped down after {statistics.median(down):.2f} s (max {max(down):.2f}), standby "
            f"led after {statistics.median(up):.2f} s (max {max(up):.2f}); "
            f"ratio to the poll interval {statistics.median(up) / 1.0:.2f}"
        )
    finally:
        for proc in procs:
            stop(proc)
        store.dispose()
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--days", type=float, default=4.0, help="length of the outage")
    parser.add_argument("--rounds", type=int, default=3, help="leader backends terminated")
    args, _ = parser.parse_known_args()  # `python -m benchmarks faults` passes its name
    configure_logging("ERROR")
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        outage(work, args.days)
        takeover(work, args.rounds)


if __name__ == "__main__":
    main()

"""SMTP delivery throughput: one reused connection vs one connection per message, same run.

Runs a local aiosmtpd (``Sink`` handler, in its own process so it does not share our GIL) and
measures messages/s, each alert in its own email:

1. transport only: pre-rendered messages sent through :class:`SmtpTransport` with
   ``reuse=True`` (N messages, default 10 000) and ``reuse=False`` (a 2 000-message sample, so
   the run stays under 3 minutes), against a plain server and against one that requires
   STARTTLS + AUTH like a real relay;
2. end to end: the ``deliver`` stage on SQLite (claim, render, send, mark), same two modes.

    .venv/bin/python -m benchmarks.bench_smtp [--alerts 10000] [--baseline 2000] [--e2e-alerts 2000]
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import os
import socket
import ssl
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from sqlalchemy import insert

from tests.smtp_support import self_signed_cert
from warning.config import load_settings
from warning.delivery.deliverer import deliver
from warning.delivery.message import AlertView, build_alert_email, make_message_id
from warning.delivery.transport import SmtpTransport, flatten
from warning.logging import configure_logging
from warning.store.engine import Store
from warning.store.models import (
    Alert,
    Base,
    Document,
    Enterprise,
    OutboxMessage,
    Rule,
    Subscription,
)

NOW = dt.datetime(2026, 11, 24, 2, 0, tzinfo=dt.UTC)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


#: a Sink server (accepts and discards), optionally requiring STARTTLS + AUTH like a real relay
SERVER = r"""
import ssl, sys, time
from aiosmtpd.controller import Controller
from aiosmtpd.handlers import Sink
from aiosmtpd.smtp import AuthResult
port, cert, key = int(sys.argv[1]), sys.argv[2], sys.argv[3]
kwargs = {}
if cert:
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(cert, key)
    kwargs = dict(tls_context=ctx, require_starttls=True, auth_required=True,
                  authenticator=lambda *a: AuthResult(success=True))
Controller(Sink(), hostname="127.0.0.1", port=port, **kwargs).start()
while True:
    time.sleep(3600)
"""


def start_sink(
    port: int, cert: Path | None = None, key: Path | None = None
) -> subprocess.Popen[bytes]:
    """The server in its own process, so that it does not share the client's GIL."""
    proc = subprocess.Popen(
        [sys.executable, "-c", SERVER, str(port), str(cert or ""), str(key or "")],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return proc
        except OSError:
            time.sleep(0.1)
    proc.kill()
    raise SystemExit("aiosmtpd did not start")


def sample_view(i: int) -> AlertView:
    return AlertView(
        alert_id=i,
        rule_id="steel.competitor",
        rule_title="竞争对手新公开专利",
        rule_version=1,
        severity="high",
        sector="steel",
        sector_name="精品钢材及深加工",
        enterprise_id="ent",
        number=f"CN{115000000 + i}A",
        title=f"一种高磁感取向硅钢的制备方法 {i}",
        rows=[
            ("命中关键词", "取向硅钢、高磁感"),
            ("IPC 重叠", "C21D8/12"),
            ("相似度", "得分 0.87"),
        ],
        record_url=f"https://worldwide.espacenet.com/patent/search?q=pn%3DCN{115000000 + i}A",
    )


def render_messages(settings, n: int) -> list[bytes]:
    """Rendered and flattened up front: the transport runs measure the SMTP conversation only."""
    return [
        flatten(
            build_alert_email(
                [sample_view(i)],
                mail_from=settings.mail_from,
                recipient=f"r{i % 50}@example.com",
                enterprise_name="示例企业",
                digest_label="",
                message_id=make_message_id([i], "bench.test"),
                now=NOW,
                tz=settings.tz,
            )
        )
        for i in range(n)
    ]


#: (label, reuse connections, pool size); the last one is the baseline
TRANSPORT_MODES = (("reuse x1", True, 1), ("reuse x4", True, 4), ("per message", False, 1))


def bench_transport(
    settings, messages: list[bytes], n: int, baseline_n: int, label: str, tls: ssl.SSLContext | None
) -> dict[str, float]:
    rates: dict[str, float] = {}
    for mode, reuse, pool in TRANSPORT_MODES:
        count = n if reuse else baseline_n
        transport = SmtpTransport(settings, reuse=reuse, connections=pool, tls_context=tls)

        async def run(t: SmtpTransport = transport, count: int = count) -> None:
            gate = asyncio.Semaphore(t.max_parallel)

            async def one(i: int) -> None:
                async with gate:
                    await t.send_raw(messages[i], "alerts@bench.test", f"r{i % 50}@example.com")

            await asyncio.gather(*(one(i) for i in range(count)))
            await t.close()

        t0 = time.perf_counter()
        asyncio.run(run())
        elapsed = time.perf_counter() - t0
        rates[mode] = count / elapsed
        print(
            f"  {label:<14} {mode:<12} {count:>6} msgs in {elapsed:6.2f}s = "
            f"{count / elapsed:7.0f} msg/s ({transport.connections} connections)"
        )
    base = rates["per message"]
    print(
        f"  {label:<14} vs one connection per message: reuse x1 {rates['reuse x1'] / base:.1f}x, "
        f"reuse x4 {rates['reuse x4'] / base:.1f}x"
    )
    return rates


def seed(store: Store, n: int) -> None:
    """n alerts for n recipients of one enterprise: n separate emails (no grouping)."""
    with store.session() as s:
        s.add(Enterprise(id="ent", name="示例企业", recipients=[]))
        s.add(Subscription(id=1, enterprise_id="ent", name="default"))
        s.add(
            Rule(
                id=1,
                rule_id="steel.competitor",
                version=1,
                title="竞争对手新公开专利",
                severity="high",
                status="active",
                definition={},
                checksum="x",
            )
        )
        s.flush()
        s.execute(
            insert(Document),
            [
                {
                    "id": i + 1,
                    "office": "CN",
                    "number": f"CN{115000000 + i}A",
                    "kind": "A",
                    "title": f"一种高磁感取向硅钢的制备方法 {i}",
                    "applicants": ["宝山钢铁股份有限公司"],
                    "ipc": ["C21D8/12"],
                    "content_hash": str(i),
                    "source": "cnipa",
                }
                for i in range(n)
            ],
        )
        s.execute(
            insert(Alert),
            [
                {
                    "id": i + 1,
                    "dedupe_key": f"k{i}",
                    "rule_pk": 1,
                    "rule_id": "steel.competitor",
                    "rule_version": 1,
                    "enterprise_id": "ent",
                    "subscription_id": 1,
                    "document_id": i + 1,
                    "severity": "high",
                    "sector": "steel",
                    "status": "queued",
                    "explanation": {
                        "terms": ["取向硅钢"],
                        "ipc_overlap": ["C21D8/12"],
                        "similarity": {"score": 0.87},
                    },
                }
                for i in range(n)
            ],
        )
        s.execute(
            insert(OutboxMessage),
            [
                {
                    "idempotency_key": f"alert:{i + 1}:r{i}@example.com",
                    "kind": "alert",
                    "alert_id": i + 1,
                    "enterprise_id": "ent",
                    "recipient": f"r{i}@example.com",
                    "group_key": "ent|1|immediate|2026-11-24T02:00Z",
                    "status": "pending",
                    "due_at": NOW,
                    "attempts": 0,
                    "payload": {},
                }
                for i in range(n)
            ],
        )


def bench_e2e(settings, n: int, workdir: Path) -> dict[str, float]:
    rates: dict[str, float] = {}
    for label, reuse in (("reuse x4", True), ("per message", False)):
        store = Store(f"sqlite:///{workdir / f'{label}.db'}")
        Base.metadata.create_all(store.engine)
        seed(store, n)
        transport = SmtpTransport(settings, reuse=reuse, connections=4 if reuse else 1)
        t0 = time.perf_counter()
        counts = deliver(store, settings, transport, now=NOW)
        elapsed = time.perf_counter() - t0
        assert counts.messages == n, counts
        rates[label] = n / elapsed
        print(
            f"  {'deliver stage':<14} {label:<12} {n:>6} msgs in {elapsed:6.2f}s = "
            f"{n / elapsed:7.0f} msg/s ({transport.connections} connections)"
        )
        store.dispose()
    print(
        f"  {'deliver stage':<14} reuse x4 / one connection per message = "
        f"{rates['reuse x4'] / rates['per message']:.1f}x (claim, render, send, mark on SQLite)"
    )
    return rates


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--alerts", type=int, default=10_000, help="messages per reuse run")
    parser.add_argument(
        "--baseline",
        type=int,
        default=2_000,
        help="messages per one-connection-per-message run (its rate is compared)",
    )
    parser.add_argument(
        "--e2e-alerts",
        type=int,
        default=2_000,
        help="alerts for the deliver-stage run on SQLite (0: skip)",
    )
    args = parser.parse_args()
    configure_logging("WARNING")
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        cert, key = self_signed_cert(work)
        print(f"SMTP delivery to a local aiosmtpd (Sink, own process); {os.cpu_count()} CPUs")
        base = load_settings(None, data_dir=work, mail_from="ipwarn <alerts@bench.test>")
        messages = render_messages(base, max(args.alerts, args.baseline))
        results = {}
        for label, secure in (("plain", False), ("starttls+auth", True)):
            port = free_port()
            sink = start_sink(port, cert if secure else None, key if secure else None)
            try:
                extra = (
                    {"smtp_starttls": True, "smtp_username": "u", "smtp_password": "p"}
                    if secure
                    else {}
                )
                settings = load_settings(
                    None,
                    data_dir=work,
                    smtp_host="127.0.0.1",
                    smtp_port=port,
                    mail_from="ipwarn <alerts@bench.test>",
                    **extra,
                )
                tls = ssl.create_default_context(cafile=str(cert)) if secure else None
                results[label] = bench_transport(
                    settings, messages, args.alerts, args.baseline, label, tls
                )
                if args.e2e_alerts and not secure:
                    bench_e2e(settings, args.e2e_alerts, work)
            finally:
                sink.terminate()
                sink.wait(10)
        parts = [
            f"{label} reuse x1 {r['reuse x1'] / r['per message']:.1f}x, reuse x4 {r['reuse x4'] / r['per message']:.1f}x"
            for label, r in results.items()
        ]
        print("summary vs one connection per message: " + "; ".join(parts) + " (goal >= 5x)")


if __name__ == "__main__":
    main()

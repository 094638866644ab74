"""Helpers for the fault-injection tests: real `ipwarn` processes on one store, counts to compare.

The data are the packaged sample bulletins (280 real CNIPA gazette records of 2019-07-12, two
CNIPA XML and two USPTO documents, 36 legal-status rows; see crawlers/samples/ORIGIN.md) and the
example subscriptions. A "clean run" is crawl -> classify -> match with nothing in the way; every
faulty run must end with exactly its documents, alerts and outbox rows.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import func, select, text

from crawlers.parsers import BadRecord, parse_file
from crawlers.samples import sample_dir
from rules.examples import example_subscriptions_path
from rules.subscriptions import import_subscriptions_file
from warning.records import DocumentRecord
from warning.store.engine import Store
from warning.store.ingest import ingest_document
from warning.store.models import Alert, Digest, Document, OutboxMessage

ROOT = Path(__file__).parent.parent


@dataclass(frozen=True)
class Counts:
    documents: int
    alerts: frozenset[str]
    outbox: frozenset[str]

    def __repr__(self) -> str:  # short, for assertion messages
        return f"Counts(documents={self.documents}, alerts={len(self.alerts)}, outbox={len(self.outbox)})"


def counts(store: Store) -> Counts:
    with store.session() as session:
        documents = session.scalar(
            select(func.count()).select_from(Document).where(Document.is_stub.is_(False))
        )
        alerts = frozenset(session.scalars(select(Alert.dedupe_key)))
        outbox = frozenset(
            f"{key}>{recipient}"
            for key, recipient in session.execute(
                select(Alert.dedupe_key, OutboxMessage.recipient).join(
                    OutboxMessage, OutboxMessage.alert_id == Alert.id
                )
            )
        )
    return Counts(int(documents or 0), alerts, outbox)


def digests_per_week(store: Store) -> dict[str, int]:
    with store.session() as session:
        rows = session.execute(select(Digest.week, func.count()).group_by(Digest.week)).all()
    return {week: int(n) for week, n in rows}


def inbox(tmp_path: Path) -> Path:
    """A private copy of the packaged sample bulletins (an inbox source reads it)."""
    target = tmp_path / "inbox"
    shutil.copytree(sample_dir(), target, ignore=shutil.ignore_patterns("*.py", "*.md"))
    return target


def env_for(store: Store, tmp_path: Path, **settings: object) -> dict[str, str]:
    """The environment of an `ipwarn` process on ``store`` with the inbox source configured."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("IPWARN_")}
    env |= {
        "IPWARN_DATABASE_URL": store.url,
        "IPWARN_DATA_DIR": str(tmp_path / "var"),
        "IPWARN_LOG_LEVEL": "WARNING",
        "IPWARN_GROUP_WINDOW_MINUTES": "0",
        "IPWARN_SOURCES__INBOX__BASE_URL": (
            tmp_path / "inbox" if (tmp_path / "inbox").exists() else inbox(tmp_path)
        ).as_uri(),
        "IPWARN_SOURCES__INBOX__DOWNLOAD_DELAY": "0",
        "IPWARN_SOURCES__INBOX__CONCURRENCY": "4",
    }
    env |= {f"IPWARN_{k.upper()}": str(v) for k, v in settings.items()}
    return env


def ipwarn(
    args: list[str], env: dict[str, str], *, timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    """Run `ipwarn ARGS` as its own process."""
    return subprocess.run(
        [sys.executable, "-m", "warning", *args],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def start(args: list[str], env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "warning", *args],
        env=env,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def import_subscriptions(store: Store, *, quiet_hours: bool = True) -> None:
    """The example enterprises; without their quiet hours (22:00-07:00 and 21:00-08:00 in
    Shanghai) a test that expects mail sent by the real clock passes at any hour of the day."""
    path = example_subscriptions_path()
    with tempfile.TemporaryDirectory() as tmp:
        if not quiet_hours:
            text = path.read_text(encoding="utf-8")
            kept = [line for line in text.splitlines() if "quiet_hours:" not in line]
            path = Path(tmp) / path.name
            path.write_text("\n".join(kept) + "\n", encoding="utf-8")
        with store.session() as session:
            import_subscriptions_file(session, path)


def sample_records() -> dict[str, list[DocumentRecord]]:
    """The sample bulletins parsed, by file name (what a crawl of the inbox stores)."""
    out: dict[str, list[DocumentRecord]] = {}
    for path in sorted(sample_dir().iterdir()):
        if path.suffix in (".py", ".md"):
            continue
        out[path.name] = [
            r.model_copy(update={"source": "inbox"})
            for r in parse_file(path)
            if not isinstance(r, BadRecord)
        ]
    return out


def ingest(store: Store, records: list[DocumentRecord]) -> None:
    with store.session() as session:
        for record in records:
            ingest_document(session, record)


def hold_write_lock(store: Store, seconds: float) -> subprocess.Popen[str]:
    """Another process that takes the database's write lock and keeps it ``seconds``.

    SQLite: ``BEGIN IMMEDIATE``; PostgreSQL: ``LOCK TABLE documents IN EXCLUSIVE MODE`` (readers
    go on, writers wait). Returns once the lock is held.
    """
    if store.is_sqlite:
        path = store.engine.url.database
        code = (
            "import sqlite3, sys, time\n"
            f"c = sqlite3.connect({path!r}, isolation_level=None)\n"
            "c.execute('BEGIN IMMEDIATE')\n"
            "print('locked', flush=True)\n"
            f"time.sleep({seconds})\n"
            "c.execute('COMMIT')\n"
        )
    else:
        url = store.engine.url.render_as_string(hide_password=False)
        code = (
            "import time\n"
            "from sqlalchemy import create_engine, text\n"
            f"e = create_engine({url!r})\n"
            "with e.begin() as c:\n"
            "    c.execute(text('LOCK TABLE documents IN EXCLUSIVE MODE'))\n"
            "    print('locked', flush=True)\n"
            f"    time.sleep({seconds})\n"
        )
    holder = subprocess.Popen(
        [sys.executable, "-c", code], stdout=subprocess.PIPE, text=True, cwd=ROOT
    )
    assert holder.stdout is not None
    assert holder.stdout.readline().strip() == "locked"
    return holder


def wait_for(predicate: object, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():  # type: ignore[operator]
            return
        time.sleep(0.05)
    raise AssertionError("condition not reached in time")


def terminate_backends(store: Store, where: str) -> int:
    """PostgreSQL: ``pg_terminate_backend`` every other backend of this database matching ``where``."""
    with store.engine.connect() as conn:
        pids = conn.execute(
            text(
                "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
                f"AND pid <> pg_backend_pid() AND {where}"
            )
        ).scalars()
        killed = 0
        for pid in list(pids):
            killed += bool(
                conn.execute(text("SELECT pg_terminate_backend(:p)"), {"p": pid}).scalar()
            )
        conn.commit()
    return killed


def env_for_nothing() -> dict[str, str]:
    """This process's environment without any IPWARN_* setting."""
    return {k: v for k, v in os.environ.items() if not k.startswith("IPWARN_")}

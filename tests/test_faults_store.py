"""Fault injection on SQLite and PostgreSQL with real `ipwarn` processes (issue 12, items 1, 2, 4, 7).

Every scenario ends compared with a clean run of the same data (the packaged sample bulletins:
280 real gazette records, 4 full-text documents, 36 legal-status rows; the example
subscriptions): 0 documents lost, 0 alerts lost or extra, one digest per week.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Iterator
from email.parser import BytesParser
from pathlib import Path

import pytest
from sqlalchemy import select, text, update
from sqlalchemy.exc import IntegrityError

from models.stage import run_classify_stage
from rules.stage import run_match_stage
from tests import faults_support as fs
from tests.conftest import _pg_store, _sqlite_store
from tests.rules_support import run_cli, use_store
from warning.config import load_settings
from warning.pipeline import StageContext, run_once
from warning.store.engine import Store
from warning.store.models import CrawlRun, Digest, Document, OutboxMessage, QuarantinedRecord

pytestmark = pytest.mark.faults

LATE_FILES = ("gazette_p4.html", "gazette_p5.html", "gazette_p6.html")


@pytest.fixture(scope="module")
def clean(tmp_path_factory: pytest.TempPathFactory) -> fs.Counts:
    """The reference: every record stored, then classified, then matched, nothing in the way."""
    tmp_path = tmp_path_factory.mktemp("clean")
    for store in _sqlite_store(tmp_path):
        fs.import_subscriptions(store)
        fs.ingest(store, [r for records in fs.sample_records().values() for r in records])
        settings = load_settings(None, data_dir=tmp_path / "var", group_window_minutes=0)
        ctx = StageContext(settings=settings, store=store)
        assert run_classify_stage(ctx).status == "ok"
        assert run_match_stage(ctx).status == "ok"
        reference = fs.counts(store)
    assert reference.documents == 284 and len(reference.alerts) >= 30 and reference.outbox
    return reference


@pytest.fixture
def pg_store() -> Iterator[Store]:
    yield from _pg_store()


def _run(store: Store, tmp_path: Path, **settings: object) -> dict[str, dict]:
    """`run --stage classify --stage match` on ``store``, in this process (the stages' code)."""
    configured = load_settings(
        None, data_dir=tmp_path / "var", database_url=store.url, group_window_minutes=0, **settings
    )
    ctx = StageContext(settings=configured, store=store)
    results = run_once(ctx, ["classify", "match"])
    assert all(r.status == "ok" for r in results.values()), results
    return {name: {"counts": r.counts, "note": r.note} for name, r in results.items()}


# --- 1. late tags ----------------------------------------------------------------------------


def test_tags_arriving_late_end_with_the_alerts_of_a_clean_run(
    store: Store, tmp_path: Path, clean: fs.Counts
) -> None:
    """A bulk import classified over several runs, its first files stored two hours before the rest."""
    fs.import_subscriptions(store)
    records = fs.sample_records()
    fs.ingest(store, [r for name, rs in records.items() if name not in LATE_FILES for r in rs])
    two_hours_ago = dt.datetime.now(dt.UTC) - dt.timedelta(hours=2)
    with store.session() as session:
        session.execute(
            update(Document).values(updated_at=two_hours_ago, first_seen_at=two_hours_ago)
        )
    fs.ingest(store, [r for name in LATE_FILES for r in records[name]])

    first = _run(store, tmp_path, classify_limit=100)
    assert first["classify"]["counts"]["documents"] == 100
    assert first["match"]["counts"]["waiting_for_tags"] == 284 - 100
    _run(store, tmp_path)
    idle = _run(store, tmp_path)
    # nothing new: the re-check touches nothing
    assert idle["match"]["counts"]["documents"] == 0
    assert idle["match"]["counts"]["rechecked"] == 0
    assert fs.counts(store) == clean


# --- 2. transient store errors during a crawl ------------------------------------------------


def test_a_write_lock_held_through_a_crawl_loses_no_document(
    store: Store, tmp_path: Path, clean: fs.Counts
) -> None:
    """SQLite: another writer holds the lock 45 s, longer than the busy timeout (30 s); PostgreSQL:
    the crawl's backend is terminated while it waits for a table lock."""
    env = fs.env_for(store, tmp_path)
    crawl = fs.start(["crawl", "inbox"], env)
    # the lock is taken once the crawl has started (its run is recorded), before it stores
    fs.wait_for(lambda: _crawl_started(store))
    holder = fs.hold_write_lock(store, 45 if store.is_sqlite else 30)
    try:
        if not store.is_sqlite:
            blocked = f"{holder_pid(store)} = ANY(pg_blocking_pids(pid))"
            fs.wait_for(lambda: _blocked_backends(store, blocked) > 0)
            assert fs.terminate_backends(store, blocked) >= 1
            holder.kill()
        out, err = crawl.communicate(timeout=240)
    finally:
        holder.kill()
        holder.wait()
    with store.session() as session:
        quarantined = session.scalars(select(QuarantinedRecord.reason)).all()
    assert quarantined == [], "a store error is not bad input"
    assert "Traceback" not in err
    if crawl.returncode == 0:
        assert "ok new=284" in out, out
    else:  # what could not be stored is fetched again by the next run
        assert "could not be stored" in err, err
        again = fs.ipwarn(["crawl", "inbox"], env)
        assert again.returncode == 0, again.stdout + again.stderr
    assert fs.counts(store).documents == clean.documents


def _crawl_started(store: Store) -> bool:
    with store.read_session() as session:
        return session.scalar(select(CrawlRun.id).where(CrawlRun.status == "running")) is not None


def holder_pid(store: Store) -> int:
    with store.engine.connect() as conn:
        return int(
            conn.execute(
                text(
                    "SELECT pid FROM pg_locks l JOIN pg_class c ON c.oid = l.relation "
                    "WHERE c.relname = 'documents' AND l.mode = 'ExclusiveLock' AND l.granted "
                    "AND c.relnamespace = to_regnamespace(current_schema())"
                )
            ).scalar_one()
        )


def _blocked_backends(store: Store, where: str) -> int:
    with store.engine.connect() as conn:
        return int(
            conn.execute(
                text(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                    f"AND {where}"
                )
            ).scalar_one()
        )


def test_quarantined_records_are_listed_and_replayed(
    store: Store,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A record quarantined by a store error (as older versions did) is stored by `retry`; an
    unparseable one stays, with its reason."""
    record = fs.sample_records()["gazette_p1.html"][0]
    with store.session() as session:
        session.add_all(
            [
                QuarantinedRecord(
                    source="inbox",
                    location=f"{record.raw_ref}",
                    reason=f"could not store {record.number}: OperationalError: database is locked",
                    raw=record.to_json().encode("utf-8"),
                ),
                QuarantinedRecord(
                    source="inbox",
                    location="file:///inbox/truncated_cn_old4.xml",
                    reason="not well-formed XML",
                    raw=(
                        Path(__file__).parent / "fixtures/crawl/truncated_cn_old4.xml"
                    ).read_bytes(),
                ),
            ]
        )
    use_store(monkeypatch, store, tmp_path)
    code, out, err = run_cli(["quarantine", "list"], capsys)
    assert code == 0, err
    assert record.number in out and "not well-formed XML" in out
    code, out, err = run_cli(["quarantine", "retry", "--all"], capsys)
    assert code == 1, out + err
    assert "1 record(s) stored, 1 still quarantined" in out
    with store.session() as session:
        assert session.scalars(select(Document.number)).all() == [record.number]
        left = session.scalars(select(QuarantinedRecord.location)).all()
    assert left == ["file:///inbox/truncated_cn_old4.xml"]


# --- 4. concurrent writers -------------------------------------------------------------------


def test_two_pipelines_at_once_wait_for_each_other(
    store: Store, tmp_path: Path, clean: fs.Counts
) -> None:
    fs.import_subscriptions(store, quiet_hours=False)  # mail goes out whatever the hour
    env = fs.env_for(store, tmp_path)
    runs = [fs.start(["run", "--once"], env) for _ in range(2)]
    outputs = [run.communicate(timeout=300) for run in runs]
    for run, (out, err) in zip(runs, outputs, strict=True):
        assert run.returncode == 0, out + err
        assert "Traceback" not in err and "database is locked" not in out + err
    assert fs.counts(store) == clean
    weeks = fs.digests_per_week(store)
    assert len(weeks) == 1 and set(weeks.values()) == {1}, weeks
    with store.session() as session:
        statuses = session.scalars(
            select(OutboxMessage.status).where(OutboxMessage.kind == "alert")
        ).all()
    # sent, or pending for a daily/weekly subscription; never stuck or failed
    assert "sent" in statuses and not set(statuses) & {"sending", "retrying", "dead"}
    # each message went out once: no Message-ID twice among the mails written
    ids = [
        BytesParser().parsebytes(path.read_bytes(), headersonly=True)["Message-ID"]
        for path in (tmp_path / "var" / "outbox").glob("*.eml")
    ]
    assert ids and len(ids) == len(set(ids))


def test_one_scheduled_digest_per_week_is_a_database_constraint(store: Store) -> None:
    with store.session() as session:
        session.add(Digest(week="2026-W47", status="draft", scheduled=True))
    with pytest.raises(IntegrityError), store.session() as session:
        session.add(Digest(week="2026-W47", status="draft", scheduled=True))
    # a reviewer's explicit rebuild is a new draft of the same week
    with store.session() as session:
        session.add(Digest(week="2026-W47", status="draft", scheduled=False))
    assert fs.digests_per_week(store) == {"2026-W47": 2}


def test_a_stage_that_cannot_get_the_write_lock_says_so(
    sqlite_store: Store, tmp_path: Path
) -> None:
    """Recording the run in job_runs fails too: the stage is reported failed with what happened
    and what to do, the recording failure is logged, and there is no traceback."""
    # SQLite only: PostgreSQL writers wait for row locks, there is no database-wide write lock
    store = sqlite_store
    env = fs.env_for(store, tmp_path, store_lock_wait_seconds=2, store_busy_timeout_seconds=1)
    holder = fs.hold_write_lock(store, 120)  # killed when the run is over
    try:
        done = fs.ipwarn(["run", "--stage", "match"], env)
    finally:
        holder.kill()
        holder.wait()
    assert "Traceback" not in done.stderr, done.stderr
    assert done.returncode == 1, done.stdout + done.stderr
    assert re.search(r"^match +failed", done.stdout, re.M)
    assert "another process holds the database's write lock" in done.stdout
    assert "job_runs.record_failed" in done.stderr


# --- 7. hints that say what happened ---------------------------------------------------------


@pytest.mark.postgres
def test_a_lost_connection_says_connection_lost(pg_store: Store) -> None:
    """PostgreSQL only: SQLite has no server connection to lose."""
    from warning.delivery.cli import store_errors
    from warning.errors import StoreError

    store = pg_store
    with store.engine.connect() as conn:
        pid = conn.execute(text("SELECT pg_backend_pid()")).scalar_one()
        with store.engine.connect() as other:
            other.execute(text("SELECT pg_terminate_backend(:p)"), {"p": pid})
        with pytest.raises(StoreError) as caught, store_errors():
            conn.execute(text("SELECT 1"))
    message = str(caught.value)
    assert "connection to the database was lost" in message
    assert "db upgrade" not in message and "run the command again" in message


def test_an_unusable_data_directory_names_the_path_and_the_cause(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("a file where the data directory should be")
    env = {k: v for k, v in fs.env_for_nothing().items() if k != "IPWARN_DATABASE_URL"} | {
        "IPWARN_DATA_DIR": str(blocker / "var")
    }
    done = fs.ipwarn(["status"], env)
    assert done.returncode == 2, done.stdout + done.stderr
    assert "Traceback" not in done.stderr
    assert f"cannot create the data directory {blocker / 'var'}" in done.stderr
    assert "IPWARN_DATABASE_URL" not in done.stderr and "data_dir" in done.stderr


def test_upgrade_adopts_the_old_watermark_without_matching_again(empty_store: Store) -> None:
    """What the old watermark covered is marked matched: the upgrade raises nothing anew."""
    from warning.store import migrate
    from warning.store.models import AppState, LegalEvent, MatchMark

    migrate.upgrade(empty_store.engine, "0001_initial")
    records = fs.sample_records()["transactions.csv"][:2] + fs.sample_records()["gazette_p1.html"]
    with empty_store.engine.begin() as conn:
        conn.execute(
            text("INSERT INTO app_state (key, value, updated_at) VALUES (:k, :v, :t)"),
            {
                "k": "rules.match_watermark",
                "v": json.dumps({"document_id": 3, "legal_event_id": 1, "updated_at": None}),
                "t": dt.datetime(2026, 11, 30),
            },
        )
    ingest = "INSERT INTO documents (office, number, kind, title, abstract, claims, applicants, "
    ingest += "addresses, inventors, ipc, language, source, content_hash, is_stub, first_seen_at, "
    ingest += "updated_at) VALUES (:o, :n, :k, '', '', '', '[]', '[]', '[]', '[]', 'zh', 'f', :h, "
    ingest += "false, :t, :t)"
    with empty_store.engine.begin() as conn:
        for i, record in enumerate(records[:5], start=1):
            conn.execute(
                text(ingest),
                {
                    "o": "CN",
                    "n": record.number,
                    "k": record.kind,
                    "h": f"h{i}",
                    "t": dt.datetime(2026, 11, 30),
                },
            )
        for doc_id, code in ((1, "CF01"), (4, "TR01")):
            conn.execute(
                text(
                    "INSERT INTO legal_events (document_id, code, event_date, description, "
                    "parties, source, created_at) VALUES (:d, :c, :e, '', '{}', 'f', :t)"
                ),
                {"d": doc_id, "c": code, "e": dt.date(2026, 11, 1), "t": dt.datetime(2026, 11, 30)},
            )
    migrate.upgrade(empty_store.engine)
    with empty_store.session() as session:
        marks = {m.document_id: m.content_hash for m in session.scalars(select(MatchMark))}
        matched = {
            e.document_id: e.matched_at is not None for e in session.scalars(select(LegalEvent))
        }
        assert session.get(AppState, "rules.match_watermark") is not None
    assert marks == {1: "h1", 2: "h2", 3: "h3"}
    assert matched == {1: True, 4: False}

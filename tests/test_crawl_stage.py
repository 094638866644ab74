"""The crawl stage on the packaged samples (inbox, file:// through Scrapy), `ipwarn crawl`, and
stale-source detection."""

from __future__ import annotations

import datetime as dt
import logging
import re
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

from crawlers.health import stale_sources
from crawlers.samples import sample_dir
from crawlers.stage import run_crawl_stage
from tests.conftest import settings_for
from warning.cli import cli, main
from warning.config import Settings, SourceConfig
from warning.pipeline import StageContext
from warning.store.engine import Store
from warning.store.models import CrawlRun, Document, DocumentApplicant, LegalEvent, utcnow


@pytest.mark.slow
def test_stage_crawls_the_samples_once_and_switches_off_unconfigured_sources(
    store: Store, settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    configured = settings_for(store, settings).model_copy(
        update={
            "sources": {
                "inbox": SourceConfig(
                    base_url=sample_dir().as_uri(), download_delay=0, concurrency=4
                ),
                "uspto": SourceConfig(),  # no base_url: off
                "epo_ops": SourceConfig(base_url="http://127.0.0.1:9/", enabled=False),
            }
        }
    )
    caplog.set_level(logging.INFO)
    result = run_crawl_stage(StageContext(settings=configured, store=store))
    assert result.status == "ok", result.note
    assert result.counts["sources"] == 1
    assert result.counts["new"] == 284  # 280 gazette + 2 CNIPA XML + 2 USPTO
    assert result.counts["new_events"] == 36
    assert result.counts["quarantined"] == 0
    # structlog hands the event dict to stdlib logging: read it from the records
    off = [
        str(r.msg)
        for r in caplog.records
        if isinstance(r.msg, dict) and r.msg.get("event") == "crawl.source_off"
    ]
    assert len(off) == 2 and "uspto" in " ".join(off) and "no base_url" in " ".join(off)
    with store.session() as session:
        events = session.scalars(select(LegalEvent)).all()
        assert {e.category for e in events} == {
            "termination",
            "transfer",
            "invalidation",
            "licence",
            "pledge",
        }
        # events attach to the gazette documents, never to blank stubs
        docs = session.scalars(
            select(Document).where(Document.id.in_([e.document_id for e in events]))
        ).all()
        assert all(d.title and not d.is_stub for d in docs)
        assert (session.scalar(select(func.count()).select_from(DocumentApplicant)) or 0) >= 284
    again = run_crawl_stage(StageContext(settings=configured, store=store))
    assert (again.counts["new"], again.counts["updated"], again.counts["new_events"]) == (0, 0, 0)
    with store.session() as session:
        assert session.scalar(select(func.count()).select_from(Document)) == 284


@pytest.mark.slow
def test_crawl_command_with_since(
    tmp_path: Path, settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    shutil.copy(sample_dir() / "transactions.csv", inbox)
    shutil.copy(sample_dir() / "gazette_p6.html", inbox)
    config = tmp_path / "ipwarn.toml"
    config.write_text(
        f'data_dir = "{tmp_path / "var"}"\n[sources.inbox]\nbase_url = "{inbox.as_uri()}"\ndownload_delay = 0\n',
        encoding="utf-8",
    )
    runner = CliRunner()
    result = runner.invoke(
        cli, ["--config", str(config), "crawl", "inbox", "--since", "2026-11-01"]
    )
    assert result.exit_code == 0, result.output
    assert "inbox: ok new=0" in result.stdout  # the 2019 gazette page is older than --since
    assert "quarantined=0" in result.stdout
    store = Store(f"sqlite:///{tmp_path / 'var' / 'ipwarn.db'}")
    try:
        with store.session() as session:
            dates = session.scalars(select(LegalEvent.event_date)).all()
            assert dates and min(dates) >= dt.date(2026, 11, 1)
            assert len(dates) < 36
    finally:
        store.dispose()
    with pytest.raises(SystemExit) as exit_info:
        main(["--config", str(config), "crawl", "nowhere"])
    assert exit_info.value.code == 2
    assert "unknown source 'nowhere'" in capsys.readouterr().err


def test_stale_sources_from_crawl_history(sqlite_store: Store, settings: Settings) -> None:
    now = utcnow()
    configured = settings.model_copy(
        update={
            "sources": {
                "fresh": SourceConfig(base_url="http://a/", expected_cadence_hours=24),
                "silent": SourceConfig(base_url="http://b/", expected_cadence_hours=24),
                "never_yielded": SourceConfig(base_url="http://c/", expected_cadence_hours=24),
                "not_crawled_yet": SourceConfig(base_url="http://d/", expected_cadence_hours=24),
                "off": SourceConfig(expected_cadence_hours=1),
            }
        }
    )
    hours = dt.timedelta(hours=1)
    with sqlite_store.session() as session:
        session.add_all(
            [
                CrawlRun(
                    source="fresh",
                    started_at=now - 30 * hours,
                    status="ok",
                    last_item_at=now - 2 * hours,
                ),
                CrawlRun(
                    source="silent",
                    started_at=now - 90 * hours,
                    status="ok",
                    last_item_at=now - 80 * hours,
                ),
                CrawlRun(
                    source="silent", started_at=now - 2 * hours, status="ok", last_item_at=None
                ),
                CrawlRun(source="never_yielded", started_at=now - 48 * hours, status="failed"),
                CrawlRun(source="off", started_at=now - 48 * hours, status="ok"),
            ]
        )
    with sqlite_store.session() as session:
        stale = stale_sources(session, configured, now)
    assert [name for name, _ in stale] == ["never_yielded", "silent"]
    last = dict(stale)
    assert last["never_yielded"] is None
    silent = last["silent"]
    assert silent is not None and abs(silent - (now - 80 * hours)) < dt.timedelta(seconds=1)


def test_misconfigured_sources_fail_before_any_subprocess(
    tmp_path: Path, sqlite_store: Store, settings: Settings
) -> None:
    from crawlers.runner import run_source
    from warning.errors import ConfigError

    configured = settings.model_copy(
        update={
            "sources": {
                "epo_ops": SourceConfig(base_url="https://ops.example/", client_id="me"),
                "inbox": SourceConfig(base_url=(tmp_path / "missing").as_uri()),
                "cnipa_bulk": SourceConfig(base_url="ftp://example/"),
                "mystery": SourceConfig(base_url="https://example/"),
            }
        }
    )
    expected = {
        "epo_ops": "IPWARN_SOURCES__EPO_OPS__CLIENT_SECRET",
        "inbox": "not a directory",
        "cnipa_bulk": "http(s) URL",
        "mystery": "options.spider",
    }
    for name, message in expected.items():
        with pytest.raises(ConfigError, match=re.escape(message)):
            run_source(configured, sqlite_store, name)
    with sqlite_store.session() as session:
        assert session.scalar(select(func.count()).select_from(CrawlRun)) == 0


def test_events_before_their_document_and_documents_never_blanked(store: Store) -> None:
    from crawlers.store_ops import store_record
    from warning.records import DocumentRecord, LegalEventRecord

    event = LegalEventRecord(code="CF01", date=dt.date(2026, 10, 1), category="termination")
    bare = DocumentRecord(office="CN", number="CN209102019U", kind="U", legal_events=[event])
    full = DocumentRecord(
        office="CN",
        number="CN209102019U",
        kind="U",
        title="流体处理系统",
        applicants=["珀金埃尔默"],
        ipc=["G01B11/26"],
    )
    with store.session() as session:
        first = store_record(session, bare)
        assert (first.new_events, first.new) == (1, 0)
        filled = store_record(session, full)  # the stub gets its data: a new document
        assert (filled.new, filled.updated) == (1, 0)
        again = store_record(session, bare.model_copy(update={"legal_events": []}))
        assert again.unchanged == 1
    with store.session() as session:
        doc = session.scalars(select(Document)).one()
        assert doc.title == "流体处理系统" and not doc.is_stub
        assert [e.code for e in session.scalars(select(LegalEvent))] == ["CF01"]

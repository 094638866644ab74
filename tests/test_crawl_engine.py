"""Spiders through the real Scrapy engine, in a subprocess as the product runs them, against a
loopback server (see tests/crawl_support.py). Slow-ish: each crawl starts a Python process."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import func, select

from crawlers.runner import run_source
from tests.conftest import settings_for
from tests.crawl_support import OPS_CLIENT, LoopbackServer, serving
from warning.config import Settings
from warning.store.engine import Store
from warning.store.models import CrawlRun, Document, FetchState, LegalEvent, QuarantinedRecord


@pytest.fixture(scope="session")
def server() -> Iterator[LoopbackServer]:
    yield from serving()


@pytest.fixture
def token() -> str:
    return uuid.uuid4().hex[:10]


def with_source(settings: Settings, store: Store, name: str, **source: Any) -> Settings:
    base = settings_for(store, settings)
    config = {"download_delay": 0, "concurrency": 4, "timeout_seconds": 60, **source}
    return base.model_copy(
        update={"sources": {name: base.model_validate({"sources": {name: config}}).sources[name]}}
    )


def count(store: Store, model: Any) -> int:
    with store.session() as session:
        return int(session.scalar(select(func.count()).select_from(model)) or 0)


@pytest.mark.slow
def test_bulk_crawl_stores_quarantines_retries_and_is_incremental(
    server: LoopbackServer, token: str, store: Store, settings: Settings
) -> None:
    cnipa = with_source(settings, store, "cnipa_bulk", base_url=server.url(token, "cnipa/"))
    first = run_source(cnipa, store, "cnipa_bulk")
    # package: 3 documents; flaky transactions (500, then retried): 2 events on 2 of them
    assert first.status == "ok"
    assert first.counts["new"] == 3
    assert first.counts["quarantined"] == 1
    assert first.counts["new_events"] == 2
    with store.session() as session:
        bad = session.scalars(select(QuarantinedRecord)).one()
        assert "truncated.xml" in bad.location and "not well-formed" in bad.reason
        assert bad.raw.startswith(b"\xef\xbb\xbf<?xml") and len(bad.raw) > 1000
        transfer = session.scalars(select(LegalEvent).where(LegalEvent.code == "TR01")).one()
        assert transfer.category == "transfer"
        assert transfer.parties == {
            "from": ["云南中烟工业有限责任公司"],
            "to": ["鞍钢股份有限公司"],
        }
    # the redirect loop is given up and reported, the crawl goes on
    assert first.stats["ipwarn/failed_requests"] == 1
    assert "failed for good" in (first.error or "")
    hits = server.hits_for(token)
    flaky = [h.status for h in hits if h.path.endswith("flaky/transactions.csv")]
    assert flaky[:2] == [500, 200]
    agents = {h.headers.get("User-Agent", "") for h in hits}
    assert all(a.startswith("ipwarn/") for a in agents)

    second = run_source(cnipa, store, "cnipa_bulk")
    assert second.counts == {
        "new": 0,
        "updated": 0,
        "unchanged": 0,
        "quarantined": 0,
        "new_events": 0,
    }
    assert second.stats["ipwarn/not_modified"] == 3
    later = [h for h in server.hits_for(token)[len(hits) :] if h.path.endswith((".zip", ".csv"))]
    assert later and all(h.status == 304 and h.headers.get("If-None-Match") for h in later)
    assert count(store, Document) == 3
    with store.session() as session:
        runs = session.scalars(select(CrawlRun).order_by(CrawlRun.id)).all()
        assert [r.status for r in runs] == ["ok", "ok"]
        assert runs[0].last_item_at is not None and runs[1].last_item_at is None
        assert session.scalar(select(func.count()).select_from(FetchState)) == 3


@pytest.mark.slow
def test_uspto_weekly_files_plain_and_zipped_respect_robots(
    server: LoopbackServer, token: str, sqlite_store: Store, settings: Settings
) -> None:
    uspto = with_source(settings, sqlite_store, "uspto", base_url=server.url(token, "uspto/"))
    outcome = run_source(uspto, sqlite_store, "uspto")
    assert outcome.status == "ok" and outcome.error is None
    with sqlite_store.session() as session:
        numbers = set(session.scalars(select(Document.number)))
    assert numbers == {"US20050004437A1", "US20210045410A1", "US6859910B2", "US7272630B2"}
    paths = [h.path for h in server.hits]
    assert "/robots.txt" in paths
    assert "/private/secret.xml" not in paths  # disallowed by robots.txt
    assert outcome.stats["ipwarn/forbidden_by_robots"] == 1
    assert not any(p.endswith("readme.pdf") for p in paths)


@pytest.mark.slow
def test_gazette_pages_utf8_then_gb18030(
    server: LoopbackServer, token: str, sqlite_store: Store, settings: Settings
) -> None:
    gazette = with_source(
        settings,
        sqlite_store,
        "cnipa_gazette",
        base_url=server.url(token, "gazette/gazette_p1.html"),
    )
    outcome = run_source(gazette, sqlite_store, "cnipa_gazette")
    assert outcome.status == "ok"
    assert outcome.counts["new"] == 56  # 50 on page 1, 6 on the GB18030 page 2
    with sqlite_store.session() as session:
        doc = session.scalars(select(Document).where(Document.number == "CN209102019U")).one()
    assert doc.title == "流体处理系统和包括所述流体处理系统的仪器"
    assert doc.applicants == ["珀金埃尔默健康科学股份有限公司"]
    assert doc.ipc == ["G01B11/26"]


@pytest.mark.slow
def test_epo_ops_oauth_token_renewal_and_throttling(
    server: LoopbackServer,
    token: str,
    sqlite_store: Store,
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("IPWARN_SOURCES__EPO_OPS__CLIENT_SECRET", OPS_CLIENT[1])
    ops = with_source(
        settings,
        sqlite_store,
        "epo_ops",
        base_url=server.url(token, "epo"),
        client_id=OPS_CLIENT[0],
        client_secret=OPS_CLIENT[1],
        options={"query": 'pa="primus"'},
        concurrency=1,
    )
    outcome = run_source(ops, sqlite_store, "epo_ops")
    assert outcome.status == "ok", outcome.error
    with sqlite_store.session() as session:
        doc = session.scalars(select(Document).where(Document.number == "AU2013290010A1")).one()
        assert doc.title == "Novel fuel composition"
        assert (session.scalar(select(func.count()).select_from(LegalEvent)) or 0) > 0
    hits = server.hits_for(token)
    assert sum(h.path.endswith("/auth/accesstoken") for h in hits) == 2  # first token expired
    # inpadoc was "yellow:600": at least 0.1 s between the two retrieval-slot requests is implied
    assert outcome.stats["ipwarn/ops_delay_ms/inpadoc"] == 100
    assert outcome.stats["ipwarn/ops_delay_ms/search"] == 100


@pytest.mark.slow
def test_timeout_stops_the_spider_and_keeps_what_it_stored(
    server: LoopbackServer,
    token: str,
    sqlite_store: Store,
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The index lists a package (fast) and a file that hangs: the crawl is killed mid-way."""
    monkeypatch.setattr("crawlers.runner.STOP_GRACE_SECONDS", 1.0)
    slow = with_source(
        settings, sqlite_store, "uspto", base_url=server.url(token, "slow/"), timeout_seconds=8
    )
    outcome = run_source(slow, sqlite_store, "uspto")
    assert outcome.status == "timeout"
    assert outcome.counts["new"] == 3  # written by the killed child, file by file
    with sqlite_store.session() as session:
        run = session.scalars(select(CrawlRun)).one()
        assert run.status == "timeout" and run.finished_at is not None
        assert "timeout" in (run.error or "")
        assert run.last_item_at is not None
        done = session.scalars(select(FetchState.url)).all()
    # the package is marked done, so the next crawl resumes after it; the hung file is not
    assert [u.rsplit("/", 1)[1] for u in done] == ["package.zip"]

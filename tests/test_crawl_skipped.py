"""Issue 12 leftover: a source skipped because another process holds its crawl lock is no failure.

Another process really holds the source's lock (an ``flock`` next to the SQLite file, a
PostgreSQL advisory lock on a connection of its own). `ipwarn crawl` and the crawl stage then
say ``skipped`` (held by another run), the failure streak does not grow, no operator is mailed
even when the streak threshold would be reached by counting the skips, and `ipwarn status`
shows the source as skipped. Once the lock is free the source is crawled as usual.
"""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from tests.faults_support import ROOT, inbox
from tests.rules_support import run_cli
from warning.config import load_settings
from warning.scheduler import job_specs, run_job
from warning.store.engine import Store
from warning.store.models import CrawlRun, JobRun, OutboxMessage, utcnow


def hold_crawl_lock(store: Store, source: str) -> subprocess.Popen[str]:
    """Another process that takes ``source``'s crawl lock and keeps it until killed."""
    url = store.engine.url.render_as_string(hide_password=False)
    code = (
        "import time\n"
        "from warning.store.engine import Store\n"
        "from warning.store.locks import named_lock\n"
        f"with named_lock(Store({url!r}), {'crawl:' + source!r}, 0) as held:\n"
        "    print('locked' if held else 'busy', flush=True)\n"
        "    time.sleep(600)\n"
    )
    holder = subprocess.Popen(
        [sys.executable, "-c", code], stdout=subprocess.PIPE, text=True, cwd=ROOT
    )
    assert holder.stdout is not None
    assert holder.stdout.readline().strip() == "locked"
    return holder


@pytest.fixture
def configured(tmp_path: Path, settings, store: Store, monkeypatch) -> Iterator[Path]:
    config = tmp_path / "ipwarn.toml"
    config.write_text(
        f'data_dir = "{settings.data_dir}"\n'
        'operator_recipients = ["ops@bureau.example"]\n'
        "source_failure_alert_after = 2\n"
        "stage_lock_wait_seconds = 0\n"
        "[sources.inbox]\n"
        f'base_url = "{inbox(tmp_path).as_uri()}"\n'
        "download_delay = 0\n",
        encoding="utf-8",
    )
    monkeypatch.setenv("IPWARN_CONFIG", str(config))
    monkeypatch.setenv("IPWARN_DATABASE_URL", store.url)
    yield config


@pytest.mark.slow
def test_a_source_held_by_another_run_is_skipped_not_failed(configured, store: Store, capsys):
    # one real failure before: with the threshold at 2, one more failure would mail operators
    earlier = utcnow() - dt.timedelta(hours=1)
    with store.session() as session:
        session.add(
            CrawlRun(
                source="inbox",
                started_at=earlier,
                finished_at=earlier,
                status="failed",
                error="all 3 request(s) failed for good, nothing was fetched",
            )
        )

    holder = hold_crawl_lock(store, "inbox")
    try:
        code, out, err = run_cli(["crawl", "inbox"], capsys)
        assert code == 0, out + err
        assert "inbox: skipped" in out and "held by another run" in out

        code, out, err = run_cli(["run", "--stage", "crawl", "--json"], capsys)
        assert code == 0, out + err
        crawl = json.loads(out.strip().splitlines()[-1])["crawl"]
        assert crawl["status"] == "skipped", crawl
        assert crawl["counts"]["skipped_sources"] == 1 and crawl["counts"]["failed_sources"] == 0
        assert "held by another run" in crawl["note"]

        code, out, err = run_cli(["status", "--json"], capsys)
        assert code == 0, err
        data = json.loads(out)
        inbox_row = {s["source"]: s for s in data["sources"]}["inbox"]
        assert inbox_row["state"] == "skipped" and inbox_row["last_status"] == "skipped"
        assert inbox_row["consecutive_failures"] == 1  # the two skips did not add to it
        assert not [p for p in data["problems"] if "inbox" in p]
        code, out, _ = run_cli(["status"], capsys)
        assert "inbox            skipped" in out and "held by another run" in out
        assert "failed 1x in a row" in out

        # the scheduler's own row for the crawl job says skipped too, not ok
        spec = next(j for j in job_specs(load_settings(configured)) if j.id == "crawl:inbox")
        run_job(spec, store, str(configured))
        with store.read_session() as session:
            job = session.scalars(select(JobRun).where(JobRun.job == "job:crawl:inbox")).one()
        assert job.status == "skipped" and "held by another run" in (job.error or ""), job.error
    finally:
        holder.kill()
        holder.wait()

    with store.session() as session:
        runs = session.scalars(select(CrawlRun).order_by(CrawlRun.id)).all()
        assert [r.status for r in runs] == ["failed", "skipped", "skipped", "skipped"]
        jobs = [(j.job, j.status) for j in session.scalars(select(JobRun).order_by(JobRun.id))]
        assert jobs == [
            ("crawl:inbox", "skipped"),
            ("stage:crawl", "skipped"),
            ("job:crawl:inbox", "skipped"),
            ("stage:crawl", "skipped"),
        ]
        assert session.scalars(select(OutboxMessage)).all() == []  # no operator alert

    # the lock is free again: the source is crawled, and its success ends the streak
    code, out, err = run_cli(["crawl", "inbox"], capsys)
    assert code == 0, out + err
    assert "inbox: ok" in out
    code, out, _ = run_cli(["status", "--json"], capsys)
    inbox_row = {s["source"]: s for s in json.loads(out)["sources"]}["inbox"]
    assert inbox_row["state"] == "ok" and inbox_row["consecutive_failures"] == 0


def test_skips_between_failures_neither_end_nor_lengthen_the_streak(configured, store, capsys):
    """failed, skipped, failed: two failures in a row (the threshold), so operators are told."""
    from warning.config import load_settings
    from warning.health import notify_failing_sources

    start = utcnow() - dt.timedelta(hours=3)
    with store.session() as session:
        for hours, status in ((0, "failed"), (1, "skipped"), (2, "failed")):
            at = start + dt.timedelta(hours=hours)
            session.add(
                CrawlRun(source="inbox", started_at=at, finished_at=at, status=status, error="x")
            )
    code, out, _ = run_cli(["status", "--json"], capsys)
    assert code == 0
    inbox_row = {s["source"]: s for s in json.loads(out)["sources"]}["inbox"]
    assert inbox_row["state"] == "failed" and inbox_row["consecutive_failures"] == 2
    with store.session() as session:
        assert notify_failing_sources(session, load_settings(configured), utcnow()) == 1

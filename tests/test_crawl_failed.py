"""Issue 13 item 2: a crawl whose requests all failed is a failed crawl, end to end.

`ipwarn crawl` against a dead address exits non-zero, the crawl stage says failed, `status`
shows the source failed (and a source never crawled as "never run"), the crawl appears in the
job history, and operators are mailed after `source_failure_alert_after` failures in a row.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import select

from tests.rules_support import run_cli
from tests.smtp_support import free_port
from warning.store.engine import Store
from warning.store.models import CrawlRun, JobRun, OutboxMessage


@pytest.fixture
def dead_source(tmp_path: Path, settings, store: Store, monkeypatch) -> Path:
    config = tmp_path / "ipwarn.toml"
    config.write_text(
        f'data_dir = "{settings.data_dir}"\n'
        'operator_recipients = ["ops@bureau.example"]\n'
        "source_failure_alert_after = 2\n"
        "[sources.cnipa_bulk]\n"
        f'base_url = "http://127.0.0.1:{free_port()}/cnipa/"\n'
        "download_delay = 0\n"
        "timeout_seconds = 60\n"
        "options = { retry_times = 0 }\n"
        "[sources.uspto]\n"
        'base_url = "http://127.0.0.1:9/never/"\n'
        'cron = "0 3 * * *"\n',
        encoding="utf-8",
    )
    monkeypatch.setenv("IPWARN_CONFIG", str(config))
    monkeypatch.setenv("IPWARN_DATABASE_URL", store.url)
    return config


@pytest.mark.slow
def test_a_crawl_that_fetched_nothing_fails_and_operators_hear_of_it(dead_source, store, capsys):
    code, out, err = run_cli(["status"], capsys)
    assert code == 0, err
    assert "never run" in out and "last_run=None" not in out

    code, out, err = run_cli(["crawl", "cnipa_bulk"], capsys)
    assert code == 1, out + err
    assert "cnipa_bulk: failed" in out and "nothing was fetched" in out
    with store.session() as session:
        assert session.scalars(select(OutboxMessage)).all() == []  # one failure: no mail yet

    code, out, err = run_cli(
        ["run", "--stage", "crawl", "--source", "cnipa_bulk", "--json"], capsys
    )
    assert code == 1
    crawl = json.loads(out.strip().splitlines()[-1])["crawl"]
    assert crawl["status"] == "failed" and crawl["counts"]["failed_sources"] == 1

    with store.session() as session:
        runs = session.scalars(select(CrawlRun).order_by(CrawlRun.id)).all()
        assert [r.status for r in runs] == ["failed", "failed"]
        jobs = [(j.job, j.status) for j in session.scalars(select(JobRun).order_by(JobRun.id))]
        assert ("crawl:cnipa_bulk", "failed") in jobs and ("stage:crawl", "failed") in jobs
        mail = session.scalars(select(OutboxMessage)).all()
        assert [(m.kind, m.recipient) for m in mail] == [("operator", "ops@bureau.example")]
        assert "连续 2 次" in mail[0].payload["subject"]

    code, out, err = run_cli(["status", "--json"], capsys)
    data = json.loads(out)
    states = {s["source"]: s for s in data["sources"]}
    assert states["cnipa_bulk"]["state"] == "failed"
    assert states["cnipa_bulk"]["consecutive_failures"] == 2
    assert states["uspto"]["state"] == "never run"
    assert any("cnipa_bulk" in p and "failed" in p for p in data["problems"])
    assert data["jobs"][0]["job"] == "stage:crawl"
    code, out, _ = run_cli(["status"], capsys)
    assert "cnipa_bulk       failed" in out and "failed 2x in a row" in out

"""The scheduled digest stage (Monday 08:00 Asia/Shanghai) and the `ipwarn digest` commands."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from tests.conftest import settings_for
from tests.digest_support import seed_fixture_week
from warning.cli import cli
from warning.config import Settings
from warning.digest.stage import run_digest_stage
from warning.pipeline import StageContext
from warning.store.engine import Store
from warning.store.models import Digest, OutboxMessage

# Monday 23 Nov 2026, 08:00 in Shanghai is 00:00 UTC: the draft of 2026-W47 becomes due
DUE = dt.datetime(2026, 11, 23, 0, 0, tzinfo=dt.UTC)


def test_stage_drafts_once_when_due_and_notifies_reviewers(store: Store, settings: Settings):
    seed_fixture_week(store)
    cfg = settings_for(store, settings).model_copy(
        update={"reviewer_recipients": ["reviewer@anshan.example"]}
    )
    early = run_digest_stage(StageContext(cfg, store, now=DUE - dt.timedelta(minutes=1)))
    assert early.status == "skipped" and "due at" in early.note

    result = run_digest_stage(StageContext(cfg, store, now=DUE))
    assert result.status == "ok"
    assert [Path(p).suffix for p in result.outputs] == [".html", ".pdf"]
    assert all(Path(p).is_file() for p in result.outputs)
    assert Path(result.outputs[0]).parent == cfg.digest_dir / "2026-W47"

    again = run_digest_stage(StageContext(cfg, store, now=DUE + dt.timedelta(hours=1)))
    assert again.status == "skipped" and "already built" in again.note

    with store.session() as session:
        digests = session.scalars(select(Digest)).all()
        notes = session.scalars(select(OutboxMessage)).all()
    assert [(d.week, d.status) for d in digests] == [("2026-W47", "draft")]
    assert [(n.kind, n.recipient, n.digest_id) for n in notes] == [
        ("operator", "reviewer@anshan.example", digests[0].id)
    ]
    assert set(notes[0].payload) == {"subject", "text"}
    assert f"ipwarn digest approve {digests[0].id}" in notes[0].payload["text"]


def test_forced_stage_builds_the_requested_week(sqlite_store: Store, settings: Settings):
    cfg = settings_for(sqlite_store, settings)
    result = run_digest_stage(
        StageContext(cfg, sqlite_store, now=DUE, force=True, options={"week": "2026-W10"})
    )
    assert result.status == "ok" and "no data" in result.note
    with sqlite_store.session() as session:
        assert session.scalars(select(Digest.week)).all() == ["2026-W10"]


def test_cli_build_show_approve_send_list(
    sqlite_store: Store, settings: Settings, monkeypatch: pytest.MonkeyPatch
):
    seed_fixture_week(sqlite_store)
    monkeypatch.setenv("IPWARN_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("IPWARN_DATABASE_URL", sqlite_store.url)
    monkeypatch.setenv("IPWARN_BUREAU_RECIPIENTS", json.dumps(["ipb@anshan.example"]))
    runner = CliRunner()

    def run(*args: str) -> str:
        result = runner.invoke(cli, ["digest", *args], catch_exceptions=False)
        assert result.exit_code == 0, result.output
        return result.output

    out = run("build", "--week", "2026-W47")
    assert "digest 1 (2026-W47) drafted" in out and "橙  精品钢材及深加工" in out
    assert "基线不足，不评级（前12周 2 周有数据、本领域 6 件" in out
    shown = run("show", "1")
    assert "status: draft" in shown
    assert "国外申请人占比 = 50.0% (threshold 40.0%)" in shown
    assert "foreign_share_change" in shown and "需 ≥4 周、≥20 件" in shown
    assert json.loads(run("show", "1", "--json"))["content"]["levels"]["steel"] == "high"

    sent = runner.invoke(cli, ["digest", "send", "1"])
    assert sent.exit_code != 0 and "approve it first" in str(sent.exception or sent.output)

    assert "approved by 王五" in run("approve", "1", "--by", "王五")
    assert "1 new outbox message(s) queued" in run("send", "1")
    listing = run("list")
    assert "2026-W47" in listing and "sent" in listing and "steel=橙" in listing

    bad = runner.invoke(cli, ["digest", "build", "--week", "2026-47"])
    assert bad.exit_code != 0


def test_no_reviewer_notice_for_an_empty_week_after_a_back_fill(store: Store, settings: Settings):
    """Issue 13.7: old bulletins were back-filled; the current week has nothing yet."""
    seed_fixture_week(store)  # documents of 2026-W47 only
    cfg = settings_for(store, settings).model_copy(
        update={"reviewer_recipients": ["reviewer@anshan.example"]}
    )
    a_month_later = DUE + dt.timedelta(weeks=4)
    result = run_digest_stage(StageContext(cfg, store, now=a_month_later))
    assert result.status == "ok" and "reviewers not notified" in result.note
    assert result.counts["reviewers_notified"] == 0
    with store.session() as session:
        assert session.scalars(select(OutboxMessage)).all() == []
        assert session.scalars(select(Digest.week)).all() == ["2026-W51"]

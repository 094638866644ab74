import datetime as dt

from click.testing import CliRunner
from sqlalchemy import select

from tests.conftest import settings_for
from warning import health
from warning.cli import cli
from warning.config import SourceConfig
from warning.store.models import CrawlRun, OutboxMessage

NOW = dt.datetime(2026, 11, 24, 2, 0, tzinfo=dt.UTC)


def test_a_silent_source_is_reported_and_operators_are_told_once_a_day(settings, store):
    s = settings_for(store, settings).model_copy(
        update={
            "operator_recipients": ["ops@example.cn"],
            "sources": {
                "gazette": SourceConfig(base_url="http://127.0.0.1:9/", expected_cadence_hours=24),
                "epo": SourceConfig(base_url="http://127.0.0.1:9/", expected_cadence_hours=24),
            },
        }
    )
    with store.session() as session:
        session.add(
            CrawlRun(
                source="gazette",
                started_at=NOW - dt.timedelta(days=5),
                status="ok",
                last_item_at=NOW - dt.timedelta(days=3),
            )
        )
        session.add(
            CrawlRun(
                source="epo",
                started_at=NOW - dt.timedelta(hours=2),
                status="ok",
                last_item_at=NOW - dt.timedelta(hours=2),
            )
        )
    for _ in range(2):  # the second check on the same day queues nothing new
        with store.session() as session:
            report = health.check(session, s, NOW)
            queued = health.notify_operators(session, s, report, NOW)
        assert [name for name, _ in report.stale_sources] == ["gazette"]
    assert queued == 0
    with store.session() as session:
        rows = session.scalars(select(OutboxMessage).where(OutboxMessage.kind == "operator")).all()
    assert len(rows) == 1
    assert rows[0].recipient == "ops@example.cn" and "gazette" in rows[0].payload["subject"]


def test_status_shows_stale_sources_and_switched_off_ones(settings, store, tmp_path):
    toml = tmp_path / "ipwarn.toml"
    toml.write_text(
        '[sources.gazette]\nbase_url = "http://127.0.0.1:9/"\nexpected_cadence_hours = 1\n'
        '[sources.epo]\ncron = "0 6 * * *"\n',
        encoding="utf-8",
    )
    with store.session() as session:
        session.add(
            CrawlRun(
                source="gazette", started_at=dt.datetime(2020, 1, 1, tzinfo=dt.UTC), status="ok"
            )
        )
    result = CliRunner().invoke(
        cli, ["--config", str(toml), "status"], env={"IPWARN_DATABASE_URL": store.url}
    )
    assert result.exit_code == 0, result.output
    assert "gazette          stale" in result.output
    assert "epo              off" in result.output
    assert (
        "PROBLEM: source 'gazette' has yielded nothing new since it was configured" in result.output
    )

"""Warning levels at their threshold edges, the thresholds file's validation, ISO-week handling."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from warning.digest.legal import digest_category, is_free_to_use
from warning.digest.thresholds import grade_sector, load_thresholds, parse_thresholds
from warning.digest.weeks import IsoWeek, draft_due_at, last_complete_week, time_of_cron
from warning.errors import ConfigError, InputError

SHANGHAI = ZoneInfo("Asia/Shanghai")


@pytest.fixture(scope="module")
def packaged():
    return load_thresholds()


@pytest.mark.parametrize(
    ("indicator", "value", "level"),
    [
        # foreign_share: critical 0.60, high 0.40, medium 0.25 (value >= threshold)
        ("foreign_share", 0.60, "critical"),
        ("foreign_share", 0.5999, "high"),
        ("foreign_share", 0.40, "high"),
        ("foreign_share", 0.3999, "medium"),
        ("foreign_share", 0.25, "medium"),
        ("foreign_share", 0.2499, "low"),
        # filings_vs_mean: 3.0 / 2.0 / 1.5
        ("filings_vs_mean", 3.0, "critical"),
        ("filings_vs_mean", 2.9999, "high"),
        ("filings_vs_mean", 1.5, "medium"),
        ("filings_vs_mean", 1.4999, "low"),
        # counts: critical_alerts 3 / 1 (no medium), transfers_out 5 / 2 / 1
        ("critical_alerts", 3, "critical"),
        ("critical_alerts", 2, "high"),
        ("critical_alerts", 1, "high"),
        ("critical_alerts", 0, "low"),
        ("transfers_out", 1, "medium"),
        ("transfers_out", 2, "high"),
        ("transfers_out", 5, "critical"),
        # change in points: 25 / 15 / 8; a fall never raises the level
        ("foreign_share_change", 8.0, "medium"),
        ("foreign_share_change", 7.99, "low"),
        ("foreign_share_change", -40.0, "low"),
    ],
)
def test_level_at_threshold_edges(packaged, indicator, value, level):
    grade = grade_sector(packaged, {indicator: value}, documents=10)
    assert grade.level == level
    if level == "low":
        assert grade.drivers == []
    else:
        assert [(d.indicator, d.value, d.level) for d in grade.drivers] == [
            (indicator, value, level)
        ]


def test_highest_indicator_sets_the_level_and_all_reached_are_shown(packaged):
    grade = grade_sector(
        packaged,
        {"foreign_share": 0.45, "transfers_out": 5, "invalidations": 1, "cr4": 0.1},
        documents=10,
    )
    assert grade.level == "critical"
    assert [(d.indicator, d.level) for d in grade.drivers] == [
        ("transfers_out", "critical"),
        ("foreign_share", "high"),
        ("invalidations", "medium"),
    ]


def test_ratios_are_not_graded_below_min_documents(packaged):
    assert packaged.min_documents == 5
    few = grade_sector(packaged, {"foreign_share": 1.0, "critical_alerts": 1}, documents=4)
    assert few.level == "high"  # from the alert count only
    assert "foreign_share" in few.insufficient
    enough = grade_sector(packaged, {"foreign_share": 1.0}, documents=5)
    assert enough.level == "critical"


def test_baseline_indicators_are_not_graded_without_a_baseline(packaged):
    assert (packaged.baseline.min_weeks, packaged.baseline.min_documents) == (4, 20)
    values = {"filings_vs_mean": 2868.33, "foreign_share_change": 15.4, "critical_alerts": 1}
    thin = grade_sector(
        packaged,
        values,
        documents=10,
        baseline_ok={"filings_vs_mean": False, "foreign_share_change": False},
    )
    assert thin.level == "high"
    assert [d.indicator for d in thin.drivers] == ["critical_alerts"]
    assert thin.no_baseline == ["filings_vs_mean", "foreign_share_change"]
    full = grade_sector(packaged, values, documents=10, baseline_ok={"filings_vs_mean": True})
    assert full.level == "critical" and full.drivers[0].indicator == "filings_vs_mean"
    assert full.no_baseline == []


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "indicators:\n  foreign_shar: {high: 0.4}\n",
            "indicators.foreign_shar: unknown indicator",
        ),
        ("indicators:\n  cr4: {high: 0.5, medium: 0.9}\n", "thresholds must not rise"),
        ("indicators:\n  cr4: {hgh: 0.5}\n", "indicators.cr4.hgh: unknown key"),
        ("indicators:\n  cr4: {high: lots}\n", "indicators.cr4.high: must be a number"),
        ("min_documents: -1\nindicators:\n  cr4: {high: 0.5}\n", "min_documents: must be"),
        ("indicators: {}\n", "indicators: must map"),
        (
            "baseline: {min_weeks: 13}\nindicators:\n  cr4: {high: 0.5}\n",
            "baseline.min_weeks: must be at most 12",
        ),
        (
            "baseline: {min_docs: 3}\nindicators:\n  cr4: {high: 0.5}\n",
            "baseline.min_docs: unknown key",
        ),
        (
            "baseline: {min_documents: many}\nindicators:\n  cr4: {high: 0.5}\n",
            "baseline.min_documents: must be a whole number",
        ),
        ("baseline: 4\nindicators:\n  cr4: {high: 0.5}\n", "baseline: must be a mapping"),
    ],
)
def test_bad_thresholds_name_the_field(text, message):
    with pytest.raises(ConfigError, match=message.replace(".", r"\.")):
        parse_thresholds(__import__("yaml").safe_load(text), "t.yaml")


def test_unreadable_or_broken_thresholds_file(tmp_path: Path):
    with pytest.raises(ConfigError, match="cannot read thresholds file"):
        load_thresholds(tmp_path / "missing.yaml")
    broken = tmp_path / "broken.yaml"
    broken.write_text("indicators:\n  cr4: [\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"broken\.yaml:\d+: not valid YAML"):
        load_thresholds(broken)


def test_iso_weeks_parse_and_bounds():
    week = IsoWeek.parse("2026-W47")
    assert (week.monday, week.sunday) == (dt.date(2026, 11, 16), dt.date(2026, 11, 22))
    assert str(week.shift(-47)) == "2025-W52" and str(IsoWeek.parse("2026w1")) == "2026-W01"
    start, end = week.utc_bounds(SHANGHAI)
    assert start == dt.datetime(2026, 11, 15, 16, 0, tzinfo=dt.UTC)
    assert end == dt.datetime(2026, 11, 22, 16, 0, tzinfo=dt.UTC)
    for bad in ("2026-47", "2026-W54", "W47", ""):
        with pytest.raises(InputError, match="not an ISO week"):
            IsoWeek.parse(bad)


def test_last_complete_week_follows_shanghai_not_utc():
    # Sunday 16:30 UTC is already Monday 00:30 in Shanghai: W47 is then complete
    assert str(last_complete_week(dt.datetime(2026, 11, 22, 16, 30, tzinfo=dt.UTC), SHANGHAI)) == (
        "2026-W47"
    )
    assert str(last_complete_week(dt.datetime(2026, 11, 22, 15, 30, tzinfo=dt.UTC), SHANGHAI)) == (
        "2026-W46"
    )
    due = draft_due_at(IsoWeek.parse("2026-W47"), SHANGHAI, time_of_cron("0 8 * * mon"))
    assert due == dt.datetime(2026, 11, 23, 0, 0, tzinfo=dt.UTC)  # Monday 08:00 Shanghai
    assert time_of_cron("*/5 * * * *") == dt.time(8, 0)


@pytest.mark.parametrize(
    ("code", "stored", "category", "free"),
    [
        ("CF01", "termination", "termination", True),
        ("MK4A", None, "expiry", True),
        ("IW01", None, "invalidation", True),  # full invalidation: free to use
        ("IP01", "other", "invalidation", False),  # partial: the rest still binds
        ("TR01", None, "transfer", False),
        ("EE01", "licence", "other", False),
        ("ZZ99", "expiry", "expiry", True),  # unknown code: the crawler's category
    ],
)
def test_legal_event_categories(code, stored, category, free):
    assert digest_category(code, stored) == category
    assert is_free_to_use(code, category) is free

"""Due times and group keys: group window, daily and weekly digests, quiet hours (Asia/Shanghai)."""

from __future__ import annotations

import datetime as dt

import pytest

from warning.config import Settings
from warning.delivery.schedule import due_time, group_frequency
from warning.store.models import Subscription

SH = dt.timezone(dt.timedelta(hours=8))


def local(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=SH).astimezone(dt.UTC)  # type: ignore[misc,arg-type]


def sub(frequency: str = "immediate", quiet: tuple[str, str] | None = None) -> Subscription:
    return Subscription(
        id=7,
        enterprise_id="ent-1",
        frequency=frequency,
        quiet_start=quiet[0] if quiet else None,
        quiet_end=quiet[1] if quiet else None,
    )


@pytest.fixture
def cfg(settings: Settings) -> Settings:
    return settings.model_copy(
        update={
            "group_window_minutes": 5.0,
            "daily_digest_time": "08:00",
            "weekly_digest_day": "mon",
        }
    )


def test_a_burst_shares_one_window_and_key(cfg):
    a = due_time(sub(), local(2026, 11, 24, 10, 1), cfg)
    b = due_time(sub(), local(2026, 11, 24, 10, 4, 59), cfg)
    c = due_time(sub(), local(2026, 11, 24, 10, 5), cfg)
    assert a == b and a[0] == local(2026, 11, 24, 10, 5)
    assert c[0] == local(2026, 11, 24, 10, 10) and c[1] != a[1]
    assert a[1] == "ent-1|7|immediate|2026-11-24T02:05Z" and group_frequency(a[1]) == "immediate"


def test_daily_digest_is_the_next_local_morning(cfg):
    assert due_time(sub("daily"), local(2026, 11, 24, 7, 59), cfg)[0] == local(2026, 11, 24, 8, 0)
    due, key = due_time(sub("daily"), local(2026, 11, 24, 8, 0), cfg)
    assert due == local(2026, 11, 25, 8, 0) and group_frequency(key) == "daily"


def test_weekly_digest_is_the_next_configured_weekday(cfg):
    # 2026-11-24 is a Tuesday; the next Monday is 2026-11-30
    assert due_time(sub("weekly"), local(2026, 11, 24, 10, 0), cfg)[0] == local(2026, 11, 30, 8, 0)
    assert due_time(sub("weekly"), local(2026, 11, 30, 7, 0), cfg)[0] == local(2026, 11, 30, 8, 0)
    friday = cfg.model_copy(update={"weekly_digest_day": "fri"})
    assert due_time(sub("weekly"), local(2026, 11, 24, 10, 0), friday)[0] == local(
        2026, 11, 27, 8, 0
    )


def test_quiet_hours_move_mail_to_their_end_also_across_midnight(cfg):
    night = sub(quiet=("22:00", "07:00"))
    assert due_time(night, local(2026, 11, 24, 23, 30), cfg)[0] == local(2026, 11, 25, 7, 0)
    assert due_time(night, local(2026, 11, 25, 1, 0), cfg)[0] == local(2026, 11, 25, 7, 0)
    assert due_time(night, local(2026, 11, 25, 12, 0), cfg)[0] == local(2026, 11, 25, 12, 5)
    lunch = sub("daily", quiet=("07:30", "09:15"))
    assert due_time(lunch, local(2026, 11, 24, 6, 0), cfg)[0] == local(2026, 11, 24, 9, 15)


def test_no_subscription_means_immediate_and_bad_quiet_hours_are_ignored(cfg):
    due, key = due_time(None, local(2026, 11, 24, 10, 1), cfg)
    assert due == local(2026, 11, 24, 10, 5) and key.startswith("-|-|immediate|")
    assert due_time(sub(quiet=("25:00", "x")), local(2026, 11, 24, 10, 1), cfg)[0] == due
    with pytest.raises(ValueError, match="naive"):
        due_time(None, dt.datetime(2026, 11, 24, 10, 1), cfg)

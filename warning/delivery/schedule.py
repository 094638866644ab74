"""When an alert's mail is due, and which alerts share one email (the group key).

* ``immediate``: tumbling windows of ``group_window_minutes`` aligned to the epoch, so every
  alert of a burst lands in the same window and the due time needs no database lookup.
* ``daily``: the next ``daily_digest_time`` in ``settings.timezone`` (Asia/Shanghai).
* ``weekly``: the next ``weekly_digest_day`` at ``daily_digest_time``.
* quiet hours (``Subscription.quiet_start``/``quiet_end``, local HH:MM, may wrap midnight) move
  a due time that falls inside them to the end of the quiet period.

The group key is ``enterprise|subscription|frequency|due`` (due in UTC, minute precision): rows
with the same key and recipient are sent as one email.
"""

from __future__ import annotations

import datetime as dt
import math

from warning.config import Settings
from warning.store.models import Subscription

FREQUENCIES = ("immediate", "daily", "weekly")
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
#: group frequencies that are digests: not subject to the daily cap (overflow lands there)
DIGEST_FREQUENCIES = frozenset({"daily", "weekly"})


def due_time(
    subscription: Subscription | None, now: dt.datetime, settings: Settings
) -> tuple[dt.datetime, str]:
    """``(due_at UTC, group_key)`` for an alert created at ``now`` for ``subscription``."""
    frequency = (subscription.frequency if subscription is not None else "immediate") or "immediate"
    if frequency not in FREQUENCIES:
        frequency = "immediate"
    due = slot_end(frequency, now, settings)
    if subscription is not None:
        due = after_quiet_hours(due, subscription.quiet_start, subscription.quiet_end, settings)
    return due, make_group_key(subscription, frequency, due)


def slot_end(frequency: str, now: dt.datetime, settings: Settings) -> dt.datetime:
    """The end of the window/digest slot that ``now`` falls into (UTC)."""
    now = _aware(now)
    if frequency == "immediate":
        window = settings.group_window_minutes * 60.0
        if window <= 0:
            return now.replace(microsecond=0)
        ts = math.floor(now.timestamp() / window + 1) * window
        return dt.datetime.fromtimestamp(ts, dt.UTC)
    tz = settings.tz
    local = now.astimezone(tz)
    hh, mm = (int(p) for p in settings.daily_digest_time.split(":"))
    candidate = local.replace(hour=hh, minute=mm, second=0, microsecond=0)
    if frequency == "weekly":
        target = WEEKDAYS.index(settings.weekly_digest_day)
        candidate += dt.timedelta(days=(target - candidate.weekday()) % 7)
        if candidate <= local:
            candidate += dt.timedelta(days=7)
    elif candidate <= local:
        candidate += dt.timedelta(days=1)
    # re-attach the zone after day arithmetic (DST-safe for zones that have it)
    candidate = candidate.replace(tzinfo=None).replace(tzinfo=tz)
    return candidate.astimezone(dt.UTC)


def after_quiet_hours(
    due: dt.datetime, quiet_start: str | None, quiet_end: str | None, settings: Settings
) -> dt.datetime:
    """``due`` moved to the end of the quiet period if it falls inside one."""
    if not quiet_start or not quiet_end or quiet_start == quiet_end:
        return due
    start, end = _minutes(quiet_start), _minutes(quiet_end)
    if start is None or end is None:
        return due
    local = due.astimezone(settings.tz)
    minute = local.hour * 60 + local.minute
    if start < end:
        inside = start <= minute < end
        end_day = local.date()
    else:  # wraps midnight, e.g. 22:00-07:00
        inside = minute >= start or minute < end
        end_day = local.date() + dt.timedelta(days=1 if minute >= start else 0)
    if not inside:
        return due
    moved = dt.datetime.combine(end_day, dt.time(end // 60, end % 60), tzinfo=settings.tz)
    return moved.astimezone(dt.UTC)


def make_group_key(subscription: Subscription | None, frequency: str, due: dt.datetime) -> str:
    enterprise = subscription.enterprise_id if subscription is not None else "-"
    sub = str(subscription.id) if subscription is not None and subscription.id is not None else "-"
    return f"{enterprise}|{sub}|{frequency}|{due.astimezone(dt.UTC):%Y-%m-%dT%H:%MZ}"


def group_frequency(group_key: str | None) -> str:
    """The frequency recorded in a group key (``immediate`` for keys made elsewhere)."""
    if group_key:
        parts = group_key.split("|")
        if len(parts) == 4 and parts[2] in FREQUENCIES:
            return parts[2]
    return "immediate"


def rollover_group_key(group_key: str | None, due: dt.datetime) -> str:
    """The daily-digest group key that a capped alert of ``group_key`` rolls into."""
    parts = (group_key or "").split("|")
    enterprise, sub = (parts[0], parts[1]) if len(parts) == 4 else ("-", "-")
    return f"{enterprise}|{sub}|daily|{due.astimezone(dt.UTC):%Y-%m-%dT%H:%MZ}"


def _minutes(hhmm: str) -> int | None:
    hh, sep, mm = hhmm.strip().partition(":")
    if not (sep and hh.isdigit() and mm.isdigit() and int(hh) < 24 and int(mm) < 60):
        return None
    return int(hh) * 60 + int(mm)


def _aware(value: dt.datetime) -> dt.datetime:
    if value.tzinfo is None:
        raise ValueError("naive datetime given; pass an aware UTC datetime")
    return value.astimezone(dt.UTC)

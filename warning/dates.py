"""Dates and date-times people type (options, filters, query parameters): one parser each.

A date must lie in :data:`EARLIEST_DATE` .. :data:`LATEST_DATE`: wide enough for any patent
record, and far enough from the calendar's ends that a local midnight converted to UTC, the
day after, or a week's Monday is still a date (0001-01-01 at midnight in Shanghai is not).
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from warning.errors import InputError, Problem

EARLIEST_DATE = dt.date(1800, 1, 1)
LATEST_DATE = dt.date(9998, 12, 31)


def within_range(day: dt.date, field: str) -> dt.date:
    if not EARLIEST_DATE <= day <= LATEST_DATE:
        raise InputError(
            [Problem(f"{day} is outside {EARLIEST_DATE} .. {LATEST_DATE}", field=field)]
        )
    return day


def parse_date(value: str | None, field: str) -> dt.date | None:
    """``YYYY-MM-DD``; empty means none."""
    text = (value or "").strip()
    if not text:
        return None
    try:
        day = dt.date.fromisoformat(text)
    except ValueError as exc:
        raise InputError(
            [Problem(f"not a date (YYYY-MM-DD, e.g. 2026-11-24): {value!r}", field=field)]
        ) from exc
    return within_range(day, field)


def parse_datetime(
    value: str | None, field: str, tz: ZoneInfo | dt.timezone = dt.UTC
) -> dt.datetime | None:
    """An ISO date or date-time as aware UTC; without an offset it is read in ``tz``."""
    text = (value or "").strip()
    if not text:
        return None
    try:
        parsed = dt.datetime.fromisoformat(text)
    except ValueError as exc:
        raise InputError(
            [
                Problem(
                    f"not an ISO date or date-time (e.g. 2026-11-24T08:00): {value!r}",
                    field=field,
                )
            ]
        ) from exc
    within_range(parsed.date(), field)
    aware = parsed if parsed.tzinfo else parsed.replace(tzinfo=tz)
    return aware.astimezone(dt.UTC)

"""One time zone for every time a person reads: the configured ``timezone`` (Asia/Shanghai).

The store keeps UTC; commands show local times with the zone named (``2026-11-24 10:00 CST``)
and JSON carries ISO 8601 with the local offset (``2026-11-24T10:00:00+08:00``), so `silence
add`, `silence list`, `status`, `alerts` and `digest show` all speak the same clock.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo


def local_today(tz: ZoneInfo, now: dt.datetime | None = None) -> dt.date:
    """The bureau's date (in Shanghai it is already tomorrow from 16:00 UTC)."""
    moment = now or dt.datetime.now(dt.UTC)
    aware = moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)
    return aware.astimezone(tz).date()


def local(value: dt.datetime | None, tz: ZoneInfo) -> str:
    """``YYYY-MM-DD HH:MM ZONE`` in ``tz``; "-" for None."""
    if value is None:
        return "-"
    aware = value if value.tzinfo else value.replace(tzinfo=dt.UTC)
    return aware.astimezone(tz).strftime("%Y-%m-%d %H:%M %Z")


def local_iso(value: dt.datetime | None, tz: ZoneInfo) -> str | None:
    """ISO 8601 with the local offset, for JSON output; None stays None."""
    if value is None:
        return None
    aware = value if value.tzinfo else value.replace(tzinfo=dt.UTC)
    return aware.astimezone(tz).isoformat(timespec="seconds")

"""ISO weeks in the bureau's time zone: parsing ``2026-W47``, bounds, and "the last complete week".

The digest covers one ISO week (Monday to Sunday) of the bureau's calendar, so every date
computation goes through the configured time zone, never the server's.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from warning.dates import EARLIEST_DATE, LATEST_DATE
from warning.errors import InputError, Problem

_WEEK_RE = re.compile(r"^(\d{4})-?W(\d{1,2})$", re.IGNORECASE)


@dataclass(frozen=True, order=True)
class IsoWeek:
    year: int
    week: int

    @classmethod
    def parse(cls, text: str) -> IsoWeek:
        """``2026-W47`` (or ``2026W47``); anything else is an :class:`InputError`."""
        match = _WEEK_RE.match(text.strip())
        if match:
            year, week = int(match.group(1)), int(match.group(2))
            try:
                monday = dt.date.fromisocalendar(year, week, 1)
            except ValueError:
                pass
            else:
                if EARLIEST_DATE <= monday <= LATEST_DATE - dt.timedelta(days=7):
                    return cls(year, week)
                raise InputError(
                    [
                        Problem(
                            f"{text.strip()} is outside {EARLIEST_DATE:%Y} .. {LATEST_DATE:%Y}",
                            field="--week",
                        )
                    ]
                )
        raise InputError(
            [Problem(f"not an ISO week: {text!r}; write it like 2026-W47", field="--week")]
        )

    @classmethod
    def of(cls, day: dt.date) -> IsoWeek:
        iso = day.isocalendar()
        return cls(iso.year, iso.week)

    @property
    def monday(self) -> dt.date:
        return dt.date.fromisocalendar(self.year, self.week, 1)

    @property
    def sunday(self) -> dt.date:
        return self.monday + dt.timedelta(days=6)

    def shift(self, weeks: int) -> IsoWeek:
        return IsoWeek.of(self.monday + dt.timedelta(weeks=weeks))

    def utc_bounds(self, tz: ZoneInfo) -> tuple[dt.datetime, dt.datetime]:
        """[Monday 00:00, next Monday 00:00) in ``tz``, as aware UTC datetimes."""
        start = dt.datetime.combine(self.monday, dt.time(0), tzinfo=tz)
        end = dt.datetime.combine(self.monday + dt.timedelta(days=7), dt.time(0), tzinfo=tz)
        return start.astimezone(dt.UTC), end.astimezone(dt.UTC)

    def __str__(self) -> str:
        return f"{self.year}-W{self.week:02d}"


def last_complete_week(now: dt.datetime, tz: ZoneInfo) -> IsoWeek:
    """The ISO week before the one that contains ``now`` in ``tz``."""
    return IsoWeek.of(now.astimezone(tz).date()).shift(-1)


def draft_due_at(week: IsoWeek, tz: ZoneInfo, at: dt.time) -> dt.datetime:
    """When the draft of ``week`` becomes due: the following Monday at ``at`` local time."""
    local = dt.datetime.combine(week.monday + dt.timedelta(days=7), at, tzinfo=tz)
    return local.astimezone(dt.UTC)


def time_of_cron(cron: str, default: dt.time = dt.time(8, 0)) -> dt.time:
    """The HH:MM of a 5-field crontab whose minute and hour are plain numbers, else ``default``."""
    fields = cron.split()
    if len(fields) == 5 and fields[0].isdigit() and fields[1].isdigit():
        minute, hour = int(fields[0]), int(fields[1])
        if minute < 60 and hour < 24:
            return dt.time(hour, minute)
    return default

"""A document's legal status from its stored legal events and the statutory term.

Walking the events in date order: a full invalidation (IW01, RW01, C28) makes it
``invalidated``; a termination (CF01 unpaid fee, AD01/AV01 abandoned, WD01 withdrawn, RJ01
rejected...) ``lapsed``; an expiry code (MK4A, MK1K, CX01, EXPY) ``expired``; a restoration
(RA01, RR01) brings it back; a grant turns a pending application into ``in_force``. Transfers,
licences, pledges and partial invalidations are shown as the latest event but change nothing.
When no event ended it, the statutory term from the filing date does: invention 20 years,
utility model 10, design 10 (15 for applications filed from 2021-06-01, the fourth amendment of
the Patent Law). CN terms are applied to every office: this is screening, not a legal opinion.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

from warning.digest.legal import FULL_INVALIDATION
from warning.legal_codes import category_of

STATUSES = ("pending", "in_force", "lapsed", "expired", "invalidated")
STATUS_ZH = {
    "pending": "审查中",
    "in_force": "有效",
    "lapsed": "失效",
    "expired": "期限届满",
    "invalidated": "被宣告无效",
}
#: statuses under which anyone may practise the invention
FREE = frozenset({"lapsed", "expired", "invalidated"})
#: kind letters of granted rights (CN B/U/S and the old C/Y; US/EP B)
GRANT_KINDS = frozenset("BCUYS")
DESIGN_15_YEARS_FROM = dt.date(2021, 6, 1)


@dataclass(frozen=True)
class Event:
    code: str
    date: dt.date
    category: str | None = None


@dataclass(frozen=True)
class LegalStatus:
    status: str
    #: the latest event's code (None when there is none, or the term ended after it)
    event: str | None
    #: the latest event's date, or the end of the term when the term ended last
    date: dt.date | None
    #: when the status took effect (for lapsed/expired/invalidated: free to use from)
    since: dt.date | None = None

    @property
    def is_free(self) -> bool:
        return self.status in FREE

    def as_json(self) -> dict[str, str | None]:
        return {
            "status": self.status,
            "event": self.event,
            "date": self.date.isoformat() if self.date else None,
        }


def term_years(kind: str, application_date: dt.date | None) -> int:
    letter = kind[:1].upper()
    if letter in ("U", "Y"):
        return 10
    if letter == "S":
        return 15 if application_date and application_date >= DESIGN_15_YEARS_FROM else 10
    return 20


def add_years(day: dt.date, years: int) -> dt.date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February
        return day.replace(year=day.year + years, day=28)


def derive_status(
    kind: str,
    application_date: dt.date | None,
    events: Iterable[Event],
    today: dt.date,
    *,
    granted: bool = False,
) -> LegalStatus:
    """The status on ``today``; ``granted``: a grant of the same application is stored."""
    is_granted = granted or kind[:1].upper() in GRANT_KINDS
    status = "in_force" if is_granted else "pending"
    since: dt.date | None = None
    ordered = sorted((e for e in events if e.date <= today), key=lambda e: (e.date, e.code))
    for ev in ordered:
        code = ev.code.strip().upper()
        category = category_of(code) or ev.category
        if code in FULL_INVALIDATION:
            status, since = "invalidated", ev.date
        elif category == "termination":
            status, since = "lapsed", ev.date
        elif category == "expiry":
            status, since = "expired", ev.date
        elif category == "restoration" and status == "lapsed":
            status, since = ("in_force" if is_granted else "pending"), ev.date
        elif category == "grant":
            is_granted = True
            if status == "pending":
                status, since = "in_force", ev.date
    latest = ordered[-1] if ordered else None
    event = latest.code.strip().upper() if latest else None
    date = latest.date if latest else None
    if status in ("pending", "in_force") and application_date is not None:
        end = add_years(application_date, term_years(kind, application_date))
        if end <= today:
            status, since = "expired", end
            if date is None or date < end:
                event, date = None, end
    return LegalStatus(status=status, event=event, date=date, since=since)

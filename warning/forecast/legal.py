"""Legal-status forecasts: statutory expiry dates and annual-fee anniversaries of rights in force.

Terms (Chinese Patent Law, counted from the filing date): invention 20 years, utility model
10 years, design 10 years — 15 years for designs filed on or after 2021-06-01 (the fourth
amendment). A right ends at the end of the day before the anniversary, so a utility model
filed 2016-07-12 is in force through 2026-07-11 (:func:`expiry_date`).

Annual fees: the fee for each year of protection is due by the anniversary of the filing date;
a six-month grace period (with a surcharge) follows before the right lapses for non-payment.
A fee anniversary is listed with the protection year it opens and the last day of its grace.

A right is **in force** at ``as_of`` when its document is a grant (B/C, U/Y, S), its term has
not ended, and the store holds no termination, expiry or full-invalidation event for it dated
on or before ``as_of``. One entry per application (the grant document).

Lapse probability: a survival model fitted on the store's own non-payment terminations
(:mod:`warning.forecast.lapse`) needs at least :data:`MIN_LAPSE_EVENTS` of them; with fewer the
estimate is reported as not available (:func:`lapse_model_status`), never guessed.
"""

from __future__ import annotations

import calendar
import datetime as dt
from dataclasses import dataclass
from typing import Any

from warning.digest.legal import FULL_INVALIDATION
from warning.forecast.data import StoreDoc

TERM_YEARS = {"B": 20, "U": 10}
DESIGN_TERM_YEARS = (10, 15)
DESIGN_15_YEARS_FROM = dt.date(2021, 6, 1)
GRACE_MONTHS = 6
#: non-payment terminations needed before a lapse-probability model is fitted at all
MIN_LAPSE_EVENTS = 200
#: codes of a termination for non-payment of the annual fee (CN, INPADOC)
NON_PAYMENT_CODES = frozenset({"CF01", "C19", "MM4A", "MM1K"})
_ENDED = frozenset({"termination", "expiry"})
RIGHT_ZH = {"B": "发明", "U": "实用新型", "S": "外观设计"}


def add_years(day: dt.date, years: int) -> dt.date:
    """The same month and day ``years`` later (29 February -> 28 February)."""
    try:
        return day.replace(year=day.year + years)
    except ValueError:
        return day.replace(year=day.year + years, day=28)


def add_months(day: dt.date, months: int) -> dt.date:
    month = day.month - 1 + months
    year, month = day.year + month // 12, month % 12 + 1
    return dt.date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def term_years(kind_class: str, application_date: dt.date) -> int | None:
    if kind_class == "S":
        return DESIGN_TERM_YEARS[application_date >= DESIGN_15_YEARS_FROM]
    return TERM_YEARS.get(kind_class)


def expiry_date(kind_class: str, application_date: dt.date) -> dt.date | None:
    """The last day the right can be in force, or None for a kind without a term (applications)."""
    years = term_years(kind_class, application_date)
    return None if years is None else add_years(application_date, years) - dt.timedelta(days=1)


def ended_on(doc: StoreDoc, as_of: dt.date) -> dt.date | None:
    """The date of the first event that ended the right on or before ``as_of``, if any."""
    for event in doc.events:
        if event.event_date <= as_of and (
            event.category in _ENDED or event.code.upper() in FULL_INVALIDATION
        ):
            return event.event_date
    return None


@dataclass(frozen=True)
class Deadline:
    doc: StoreDoc
    #: "expiry" (the term ends) or "fee_anniversary" (an annual fee falls due)
    event: str
    date: dt.date
    expiry: dt.date
    fee_year: int | None = None
    grace_until: dt.date | None = None
    own: bool = False

    def to_json(self) -> dict[str, Any]:
        return {
            "number": self.doc.number,
            "title": self.doc.title,
            "kind": self.doc.kind_class,
            "right_zh": RIGHT_ZH.get(self.doc.kind_class or "", ""),
            "application_date": self.doc.application_date.isoformat()
            if self.doc.application_date
            else None,
            "sectors": list(self.doc.sectors),
            "applicants": [a.name for a in self.doc.applicants],
            "event": self.event,
            "date": self.date.isoformat(),
            "expiry": self.expiry.isoformat(),
            "fee_year": self.fee_year,
            "grace_until": self.grace_until.isoformat() if self.grace_until else None,
            "own": self.own,
        }


def rights_in_force(docs: list[StoreDoc], as_of: dt.date) -> list[tuple[StoreDoc, dt.date]]:
    """(grant document, expiry date) per application in force at ``as_of``."""
    seen: dict[str, tuple[StoreDoc, dt.date]] = {}
    for doc in docs:
        if not doc.is_grant or doc.application_date is None or doc.publication_date > as_of:
            continue
        expiry = expiry_date(doc.kind_class or "", doc.application_date)
        if expiry is None or expiry < as_of or ended_on(doc, as_of) is not None:
            continue
        seen.setdefault(doc.application_number or doc.number, (doc, expiry))
    return list(seen.values())


def deadlines(
    docs: list[StoreDoc], as_of: dt.date, months: int, *, own: frozenset[str] = frozenset()
) -> list[Deadline]:
    """Expiries and fee anniversaries in ``(as_of, as_of + months]``, by date then number."""
    until = add_months(as_of, months)
    found: list[Deadline] = []
    for doc, expiry in rights_in_force(docs, as_of):
        is_own = doc.number in own
        if as_of < expiry <= until:
            found.append(Deadline(doc, "expiry", expiry, expiry, own=is_own))
        assert doc.application_date is not None
        year = 1
        while True:
            anniversary = add_years(doc.application_date, year)
            if anniversary > until or anniversary > expiry:
                break
            if anniversary > as_of:
                found.append(
                    Deadline(
                        doc,
                        "fee_anniversary",
                        anniversary,
                        expiry,
                        fee_year=year + 1,
                        grace_until=add_months(anniversary, GRACE_MONTHS),
                        own=is_own,
                    )
                )
            year += 1
    return sorted(found, key=lambda d: (d.date, d.doc.number, d.event))


def lapse_model_status(docs: list[StoreDoc], as_of: dt.date) -> dict[str, Any]:
    """Whether a lapse-probability model is fitted on the store's own events, with its back-test."""
    from warning.forecast.lapse import lapse_estimates

    return lapse_estimates(docs, as_of)[0]

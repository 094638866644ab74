"""CN legal-event codes (CF01, TR01, IW01, ...) and the category each one falls into.

The code table is the EPO INPADOC list for authority CN (packaged copy, see data/ORIGIN.md).
One table for the whole service: crawlers store the category with each event, rules and the
digest reason about it. Categories are few and stable:
termination, expiry, invalidation, transfer, licence, pledge, restoration, grant,
publication, examination, change, other.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from functools import cache
from importlib import resources

#: codes whose category is more specific than their INPADOC event class
_EXPLICIT: dict[str, str] = {
    "CF01": "termination",
    "C19": "termination",
    "MM1K": "termination",
    "MM4A": "termination",
    "CX01": "expiry",
    "MK1K": "expiry",
    "MK4A": "expiry",
    "EXPY": "expiry",
    "IW01": "invalidation",
    "IW02": "invalidation",
    "IP01": "invalidation",
    "C26": "invalidation",
    "C32": "invalidation",
    "C35": "invalidation",
    "CE01": "termination",
    "RW01": "invalidation",
    "RP01": "invalidation",
    "C28": "invalidation",
    "TR01": "transfer",
    "TA01": "transfer",
    "ASS": "transfer",
    "C41": "transfer",
    "C44": "transfer",
    "C45": "transfer",
    "C47": "transfer",
    "EE01": "licence",
    "EM01": "licence",
    "EC01": "licence",
    "LIC": "licence",
    "LICC": "licence",
    "OL01": "licence",
    "OL02": "licence",
    "PE01": "pledge",
    "PM01": "pledge",
    "PC01": "pledge",
    "PLDC": "pledge",
    "RA01": "restoration",
    "RR01": "restoration",
    "C49": "restoration",
}

#: INPADOC event class -> category, for codes not listed above
_BY_CLASS: dict[str, str] = {
    "H": "termination",
    "R": "change",
    "S": "licence",
    "K": "restoration",
    "C": "restoration",
    "F": "grant",
    "Q": "publication",
    "P": "publication",
    "D": "examination",
    "B": "termination",
}


@dataclass(frozen=True)
class LegalCode:
    code: str
    description: str
    #: "+" strengthens the right, "-" ends or weakens it, "" neutral
    influence: str
    event_class: str
    category: str


@cache
def cn_legal_codes() -> dict[str, LegalCode]:
    """The packaged CN code table, keyed by code."""
    text = (
        resources.files("warning")
        .joinpath("data/inpadoc_legal_event_codes_CN.csv")
        .read_text(encoding="utf-8")
    )
    table: dict[str, LegalCode] = {}
    for row in csv.DictReader(io.StringIO(text)):
        code = row["Event-code"].strip().upper()
        event_class = row["Event-class"].strip()
        category = _EXPLICIT.get(code) or _BY_CLASS.get(event_class, "other")
        table[code] = LegalCode(
            code=code,
            description=row["Description ENG"].strip(),
            influence=row["Influence"].strip(),
            event_class=event_class,
            category=category,
        )
    return table


def category_of(code: str) -> str | None:
    """The category of a CN code, or None when the code is not in the table."""
    entry = cn_legal_codes().get(code.strip().upper())
    return entry.category if entry else None


def describe(code: str) -> str:
    entry = cn_legal_codes().get(code.strip().upper())
    return entry.description if entry else ""

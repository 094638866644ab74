"""Which legal events the digest reports, and under which heading.

Codes are CN legal-status codes from the EPO INPADOC code table for authority CN (event class in
brackets): CF01 termination for non-payment of the annual fee [H], MK4A/MK1K/EXPY expiry [H],
IW01 full invalidation [H], IP01 partial invalidation [M], TR01 transfer of the patent right [R],
TA01 transfer of the application right [R]. The category stored with the event by the crawler
is used for codes not listed here.
"""

from __future__ import annotations

#: digest headings, in display order
CATEGORIES: tuple[str, ...] = ("invalidation", "termination", "expiry", "transfer", "other")
CATEGORY_ZH: dict[str, str] = {
    "invalidation": "无效宣告",
    "termination": "终止/失效",
    "expiry": "期限届满",
    "transfer": "权利转移",
    "other": "其他",
}

_BY_CODE: dict[str, str] = {
    # invalidation (full and partial) and revocation
    "IW01": "invalidation",
    "IW02": "invalidation",
    "IP01": "invalidation",
    "C32": "invalidation",
    "C35": "invalidation",
    "RW01": "invalidation",
    "RP01": "invalidation",
    "C26": "invalidation",
    "C28": "invalidation",
    # termination: non-payment, abandonment, cessation
    "CF01": "termination",
    "C19": "termination",
    "MM1K": "termination",
    "MM4A": "termination",
    "CE01": "termination",
    "C17": "termination",
    "AD01": "termination",
    "AV01": "termination",
    "AR01": "termination",
    "C20": "termination",
    "C25": "termination",
    "MA1K": "termination",
    "RGAV": "termination",
    # end of the term
    "CX01": "expiry",
    "EXPY": "expiry",
    "MK1K": "expiry",
    "MK4A": "expiry",
    # change of owner
    "TR01": "transfer",
    "TA01": "transfer",
    "ASS": "transfer",
    "C41": "transfer",
    "C44": "transfer",
    "C45": "transfer",
    "C47": "transfer",
}

#: categories after which anyone may practise the invention (the right has ended)
FREE_TO_USE: frozenset[str] = frozenset({"termination", "expiry"})
#: codes of a full invalidation (the whole right is gone), also free to use
FULL_INVALIDATION: frozenset[str] = frozenset({"IW01", "RW01", "C28"})


def digest_category(code: str, stored_category: str | None) -> str:
    """The digest heading of an event: by code first, then by the crawler's category."""
    by_code = _BY_CODE.get(code.strip().upper())
    if by_code:
        return by_code
    if stored_category in CATEGORIES:
        return stored_category
    return "other"


def is_free_to_use(code: str, category: str) -> bool:
    return category in FREE_TO_USE or code.strip().upper() in FULL_INVALIDATION

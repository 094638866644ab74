"""Which legal events the digest reports, and under which heading.

Codes are CN legal-status codes from the EPO INPADOC code table for authority CN (event class in
brackets): CF01 termination for non-payment of the annual fee [H], MK4A/MK1K/EXPY expiry [H],
IW01 full invalidation [H], IP01 partial invalidation [M], TR01 transfer of the patent right [R],
TA01 transfer of the application right [R]. Categories come from the one code table in
``warning.legal_codes``; the category stored with the event is used for codes not in it.
"""

from __future__ import annotations

from warning.legal_codes import category_of

#: digest headings, in display order
CATEGORIES: tuple[str, ...] = ("invalidation", "termination", "expiry", "transfer", "other")
CATEGORY_ZH: dict[str, str] = {
    "invalidation": "无效宣告",
    "termination": "终止/失效",
    "expiry": "期限届满",
    "transfer": "权利转移",
    "other": "其他",
}

#: categories after which anyone may practise the invention (the right has ended)
FREE_TO_USE: frozenset[str] = frozenset({"termination", "expiry"})
#: codes of a full invalidation (the whole right is gone), also free to use
FULL_INVALIDATION: frozenset[str] = frozenset({"IW01", "RW01", "C28"})


def digest_category(code: str, stored_category: str | None) -> str:
    """The digest heading of an event: by code first, then by the crawler's category."""
    by_code = category_of(code)
    if by_code in CATEGORIES:
        return by_code
    if by_code is None and stored_category in CATEGORIES:
        return stored_category
    return "other"


def is_free_to_use(code: str, category: str) -> bool:
    return category in FREE_TO_USE or code.strip().upper() in FULL_INVALIDATION

"""E-mail address checks shared by the settings and the subscription files (no mail code)."""

from __future__ import annotations

import re
from email.utils import parseaddr

#: ``local@domain.tld``: no spaces, brackets, quotes or separators (what a recipient must be)
_RECIPIENT = re.compile(r"^[^@\s<>\"',;]+@[^@\s<>\"',;]+\.[^@\s<>\"',;]+$")
_DOMAIN = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9-]+)*$")


def check_recipients(values: list[str]) -> list[str]:
    """Stripped addresses, or ValueError naming every one that is not ``local@domain.tld``."""
    bad = [v for v in values if not _RECIPIENT.match(v.strip())]
    if bad:
        raise ValueError(
            ", ".join(repr(v) for v in bad)
            + (" is not an e-mail address" if len(bad) == 1 else " are not e-mail addresses")
            + " (expected local@domain, e.g. ip@ansteel.example.cn)"
        )
    return [v.strip() for v in values]


def check_mailbox(value: str) -> str:
    """``Name <local@domain>`` or ``local@domain`` (a bare host such as localhost is allowed)."""
    _, addr = parseaddr(value)
    local, at, domain = addr.partition("@")
    if not (at and local and _DOMAIN.match(domain) and " " not in addr):
        raise ValueError(
            f"{value!r} is not a mailbox; expected 'Name <local@domain>' or 'local@domain', "
            "e.g. 'ipwarn <ipwarn@ipb.anshan.example>'"
        )
    return value

"""Signed mute links: a link in a mail can only do what the mail's sender allowed.

A mute link stops one rule's alerts for one enterprise. Anyone who sees the URL could follow
it, so it must not be forgeable for another enterprise or rule, nor usable for ever: the link
carries an HMAC-SHA256 token over (enterprise, rule, action, expiry) keyed with the
``link_secret`` setting. The console (`ipwarn web`, ``/mute`` and ``/feedback``) calls
:func:`verify_link_query` before it acts. Feedback links use the same scheme, with the alert as
the signed subject and ``feedback:<verdict>`` as the action. Without a secret no link is made at all: the mail says to contact the bureau instead.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import json
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlencode

#: mute this rule's alerts for this enterprise (the card link and ``List-Unsubscribe``)
ACTION_MUTE = "mute"
#: how long a link in a mail stays valid; later the reader asks the bureau
LINK_VALIDITY = dt.timedelta(days=90)
#: version tag inside the signed text, so the format can change without accepting old tokens
_VERSION = "ipwarn-link-v1"


class LinkTokenError(ValueError):
    """A link that must not be acted on; ``reason`` is ``malformed``, ``forged`` or ``expired``."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True)
class LinkClaims:
    """What a verified link allows."""

    enterprise: str
    rule: str
    action: str
    expires: int  #: Unix seconds (UTC)

    @property
    def expires_at(self) -> dt.datetime:
        return dt.datetime.fromtimestamp(self.expires, dt.UTC)


def _key(secret: str | bytes) -> bytes:
    key = secret.encode("utf-8") if isinstance(secret, str) else secret
    if not key:
        raise ValueError("link secret is empty")
    return key


def _signed_text(enterprise: str, rule: str, action: str, expires: int) -> bytes:
    # a JSON array is unambiguous whatever characters the ids contain (no separator games)
    fields = [_VERSION, enterprise, rule, action, int(expires)]
    return json.dumps(fields, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def link_token(
    secret: str | bytes, *, enterprise: str, rule: str, action: str, expires: int
) -> str:
    """The URL-safe token (base64url, 43 characters) for these claims."""
    mac = hmac.new(_key(secret), _signed_text(enterprise, rule, action, expires), hashlib.sha256)
    return base64.urlsafe_b64encode(mac.digest()).rstrip(b"=").decode("ascii")


def verify_link_token(
    secret: str | bytes,
    *,
    enterprise: str,
    rule: str,
    action: str,
    expires: int | str,
    token: str,
    now: dt.datetime,
) -> LinkClaims:
    """The claims if ``token`` was made with ``secret`` for exactly these values and is unexpired.

    Raises :class:`LinkTokenError`. The signature is compared in constant time and checked
    before the expiry, so a forged link never learns more than "forged".
    """
    try:
        expires_at = int(expires)
    except (TypeError, ValueError):
        raise LinkTokenError("malformed", f"expiry is not a number: {expires!r}") from None
    if not token or not all(isinstance(v, str) for v in (enterprise, rule, action, token)):
        raise LinkTokenError("malformed", "enterprise, rule, action and token are required")
    expected = link_token(
        secret, enterprise=enterprise, rule=rule, action=action, expires=expires_at
    )
    if not hmac.compare_digest(expected.encode("ascii"), token.encode("utf-8", "replace")):
        raise LinkTokenError("forged", "the link's signature does not match")
    if now.timestamp() >= expires_at:
        raise LinkTokenError("expired", f"the link expired at {expires_at}")
    return LinkClaims(enterprise=enterprise, rule=rule, action=action, expires=expires_at)


def verify_link_query(
    secret: str | bytes, query: Mapping[str, str], *, now: dt.datetime
) -> LinkClaims:
    """:func:`verify_link_token` on a parsed query string (``enterprise``, ``rule``, ...)."""
    return verify_link_token(
        secret,
        enterprise=query.get("enterprise", ""),
        rule=query.get("rule", ""),
        action=query.get("action", ""),
        expires=query.get("expires", ""),
        token=query.get("token", ""),
        now=now,
    )


def link_expiry(now: dt.datetime, validity: dt.timedelta = LINK_VALIDITY) -> int:
    """``now + validity`` rounded up to a UTC midnight: one expiry for a whole day's mails."""
    end = now.astimezone(dt.UTC) + validity
    midnight = end.replace(hour=0, minute=0, second=0, microsecond=0)
    if midnight < end:
        midnight += dt.timedelta(days=1)
    return int(midnight.timestamp())


def mute_url(
    base: str | None,
    secret: str | bytes | None,
    *,
    rule_id: str,
    enterprise_id: str | None,
    now: dt.datetime,
) -> str | None:
    """``BASE/mute?enterprise=…&rule=…&action=mute&expires=…&token=…``, or None.

    None without a base URL, a secret or an enterprise: an unsigned link could mute anybody's
    alerts, and a rule-wide mute (no enterprise) is the bureau's decision, not a reader's.
    """
    if not base or not secret or not enterprise_id:
        return None
    expires = link_expiry(now)
    query = {
        "enterprise": enterprise_id,
        "rule": rule_id,
        "action": ACTION_MUTE,
        "expires": str(expires),
        "token": link_token(
            secret, enterprise=enterprise_id, rule=rule_id, action=ACTION_MUTE, expires=expires
        ),
    }
    return base.rstrip("/") + "/mute?" + urlencode(query)


#: feedback verdicts a mail link may carry (action ``feedback:<verdict>``)
FEEDBACK_VERDICTS = ("useful", "not_relevant", "known")


def feedback_subject(alert_id: int) -> str:
    """The signed "rule" field of a feedback link: the alert it is about."""
    return f"alert:{alert_id}"


def feedback_urls(
    base: str | None,
    secret: str | bytes | None,
    *,
    alert_id: int,
    enterprise_id: str | None,
    now: dt.datetime,
) -> dict[str, str]:
    """``{verdict: BASE/feedback?...}`` for one alert, signed like the mute links; {} without
    a base URL, a secret or an enterprise (same reasons as :func:`mute_url`)."""
    if not base or not secret or not enterprise_id:
        return {}
    expires = link_expiry(now)
    out = {}
    for verdict in FEEDBACK_VERDICTS:
        action = f"feedback:{verdict}"
        query = {
            "enterprise": enterprise_id,
            "rule": feedback_subject(alert_id),
            "action": action,
            "expires": str(expires),
            "token": link_token(
                secret,
                enterprise=enterprise_id,
                rule=feedback_subject(alert_id),
                action=action,
                expires=expires,
            ),
        }
        out[verdict] = base.rstrip("/") + "/feedback?" + urlencode(query)
    return out

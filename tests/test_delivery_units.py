"""Back-off and the classification of SMTP answers (final vs retried)."""

from __future__ import annotations

import random

import aiosmtplib
import pytest

from warning.config import Settings
from warning.delivery.deliverer import MAX_BACKOFF_SECONDS, backoff_seconds
from warning.delivery.transport import ServerUnavailable, classify


def test_backoff_doubles_with_jitter_and_is_capped(settings: Settings):
    cfg = settings.model_copy(update={"retry_base_seconds": 30.0})
    rng = random.Random(7)
    for attempt, full in [(1, 30.0), (2, 60.0), (3, 120.0), (20, MAX_BACKOFF_SECONDS)]:
        delays = [backoff_seconds(attempt, cfg, rng) for _ in range(50)]
        assert all(full / 2 <= d <= full for d in delays)
        assert len({round(d, 3) for d in delays}) > 1  # jittered, so retries do not stampede


@pytest.mark.parametrize(
    ("exc", "retryable", "unavailable"),
    [
        (
            aiosmtplib.SMTPRecipientsRefused(
                [aiosmtplib.SMTPRecipientRefused(550, "no user", "a@b")]
            ),
            False,
            False,
        ),
        (
            aiosmtplib.SMTPRecipientsRefused(
                [aiosmtplib.SMTPRecipientRefused(451, "later", "a@b")]
            ),
            True,
            False,
        ),
        (aiosmtplib.SMTPDataError(554, "rejected as spam"), False, False),
        (aiosmtplib.SMTPDataError(421, "try again"), True, False),
        (aiosmtplib.SMTPAuthenticationError(535, "bad credentials"), True, True),
        (aiosmtplib.SMTPConnectError("refused"), True, True),
        (aiosmtplib.SMTPServerDisconnected("gone"), True, True),
        (ConnectionResetError("reset"), True, True),
    ],
)
def test_classify(exc, retryable, unavailable):
    error = classify(exc)
    assert error.retryable is retryable
    assert isinstance(error, ServerUnavailable) is unavailable
    if isinstance(exc, aiosmtplib.SMTPResponseException):
        assert str(exc.code) in str(error)  # the server's answer is kept

"""Importing a subscriptions file in one call (used by `ipwarn demo` and scripts)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from sqlalchemy.orm import Session

from rules.loader import load_subscription_file
from rules.repository import ImportReport, import_subscriptions
from warning.store.models import utcnow


def describe(report: ImportReport) -> str:
    return (
        f"enterprises: {report.enterprises_new} new, {report.enterprises_updated} updated; "
        f"subscriptions: {report.subscriptions_new} new, {report.subscriptions_updated} updated, "
        f"{report.subscriptions_deactivated} deactivated"
        + (
            f"; {report.queued_cancelled} queued message(s) cancelled (see `ipwarn outbox`)"
            if report.queued_cancelled
            else ""
        )
    )


def import_subscriptions_file(session: Session, path: Path, now: dt.datetime | None = None) -> str:
    """Validate ``path`` (raising InputError with located problems) and upsert it; a summary."""
    return describe(import_subscriptions(session, load_subscription_file(path), now or utcnow()))

"""Stale sources: a source that yielded nothing new for longer than its expected cadence.

``ipwarn status`` shows them and the operators are alerted, because a silent source usually
means a changed site or expired credentials, not a quiet patent office.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import desc, func, select
from sqlalchemy.orm import Session

from warning.config import Settings
from warning.store.models import CrawlRun


def stale_sources(
    session: Session, settings: Settings, now: dt.datetime
) -> list[tuple[str, dt.datetime | None]]:
    """(source, last time it yielded an item or None if never) for every stale active source.

    A source counts from its first crawl: one that has never been crawled is not stale yet (the
    scheduler has not reached it), one crawled for longer than its cadence without ever
    yielding anything is stale with ``None``.
    """
    stale: list[tuple[str, dt.datetime | None]] = []
    for name, config in sorted(settings.sources.items()):
        if not config.enabled or not config.base_url:
            continue
        row = session.execute(
            select(func.max(CrawlRun.last_item_at), func.min(CrawlRun.started_at)).where(
                CrawlRun.source == name, CrawlRun.status != "skipped"
            )
        ).one()
        last_item, first_run = _aware(row[0]), _aware(row[1])
        cadence = dt.timedelta(hours=config.expected_cadence_hours)
        reference = last_item or first_run
        if reference is not None and now - reference > cadence:
            stale.append((name, last_item))
    return stale


def _aware(value: dt.datetime | None) -> dt.datetime | None:
    """Aggregates bypass the UTC column type on SQLite and come back naive (or as text)."""
    if value is None:
        return None
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value)
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


#: crawl-run statuses that count as a failed crawl
FAILED_RUN_STATUSES = ("failed", "timeout")
#: crawl-run statuses that are no crawl at all: still running, or skipped because another run
#: held the source's lock (neither adds to a failure streak nor ends one)
NOT_A_CRAWL_STATUSES = ("running", "skipped")


def failure_streak(session: Session, source: str, limit: int = 100) -> tuple[int, CrawlRun | None]:
    """How many of ``source``'s latest finished crawls failed in a row, and the latest of them.

    Crawls skipped because another run held the source's lock are not crawls: they are left out.
    """
    runs = session.scalars(
        select(CrawlRun)
        .where(CrawlRun.source == source, CrawlRun.status.not_in(NOT_A_CRAWL_STATUSES))
        .order_by(desc(CrawlRun.started_at), desc(CrawlRun.id))
        .limit(limit)
    ).all()
    streak = 0
    for run in runs:
        if run.status not in FAILED_RUN_STATUSES:
            break
        streak += 1
    return streak, (runs[0] if streak else None)


def failing_sources(session: Session, settings: Settings) -> list[tuple[str, int, CrawlRun]]:
    """(source, consecutive failed crawls, latest run) for every active source whose last
    ``source_failure_alert_after`` crawls all failed."""
    out: list[tuple[str, int, CrawlRun]] = []
    threshold = settings.source_failure_alert_after
    for name, config in sorted(settings.sources.items()):
        if not config.enabled or not config.base_url:
            continue
        streak, last = failure_streak(session, name)
        if streak >= threshold and last is not None:
            out.append((name, streak, last))
    return out

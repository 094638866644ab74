"""What `ipwarn status` reports, as plain data (the text and the JSON views print the same).

Sources (off / never run / ok / failed / skipped (held by another run) / stale), recent job
runs (pipeline stages, scheduled jobs and `ipwarn crawl` runs), digests waiting for approval,
the untagged backlog, quarantined records per source, the outbox and the health problems. Times are in the configured zone.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import desc, func, select
from sqlalchemy.orm import Session

from warning.config import Settings
from warning.store.models import CrawlRun, Digest, JobRun, QuarantinedRecord
from warning.timefmt import local_iso


def source_rows(session: Session, settings: Settings, stale: set[str]) -> list[dict[str, Any]]:
    from crawlers.health import FAILED_RUN_STATUSES, failure_streak

    tz = settings.tz
    rows = []
    for name, src in sorted(settings.sources.items()):
        last = session.scalars(
            select(CrawlRun)
            .where(CrawlRun.source == name)
            .order_by(desc(CrawlRun.started_at), desc(CrawlRun.id))
            .limit(1)
        ).first()
        streak, _ = failure_streak(session, name)
        if not (src.enabled and src.base_url):
            state = "off"
        elif last is None:
            state = "never run"
        elif last.status in FAILED_RUN_STATUSES:
            state = "failed"
        elif last.status == "skipped":  # held by another run (its own row says how it went)
            state = "skipped"
        elif name in stale:
            state = "stale"
        else:
            state = "ok"
        rows.append(
            {
                "source": name,
                "state": state,
                "cron": src.cron,
                "last_run": local_iso(last.started_at, tz) if last else None,
                "last_status": last.status if last else None,
                "last_error": (last.error or None) if last else None,
                "consecutive_failures": streak,
                "last_item_at": local_iso(last.last_item_at, tz) if last else None,
            }
        )
    return rows


def job_rows(session: Session, settings: Settings, limit: int) -> list[dict[str, Any]]:
    return [
        {
            "job": r.job,
            "status": r.status,
            "started_at": local_iso(r.started_at, settings.tz),
            "seconds": (r.detail or {}).get("seconds"),
            "error": (r.error or "")[:200],
        }
        for r in session.scalars(select(JobRun).order_by(desc(JobRun.id)).limit(limit))
    ]


def awaiting_approval(session: Session, settings: Settings) -> list[dict[str, Any]]:
    return [
        {"id": d.id, "week": d.week, "built_at": local_iso(d.built_at, settings.tz)}
        for d in session.scalars(
            select(Digest).where(Digest.status == "draft").order_by(Digest.week, Digest.id)
        )
    ]


def quarantine_counts(session: Session) -> dict[str, int]:
    rows = session.execute(
        select(QuarantinedRecord.source, func.count())
        .group_by(QuarantinedRecord.source)
        .order_by(QuarantinedRecord.source)
    ).all()
    return {source: int(count) for source, count in rows}


def untagged(session: Session) -> dict[str, Any]:
    from models.stage import untagged_backlog

    version, count = untagged_backlog(session)
    return {"model_version": version, "documents": count}


def collect(session: Session, settings: Settings, now: dt.datetime, limit: int) -> dict[str, Any]:
    from warning import health

    report = health.check(session, settings, now)
    stale = {name for name, _ in report.stale_sources}
    return {
        "timezone": settings.timezone,
        "sources": source_rows(session, settings, stale),
        "jobs": job_rows(session, settings, limit),
        "digests_awaiting_approval": awaiting_approval(session, settings),
        "untagged": untagged(session),
        "quarantine": quarantine_counts(session),
        "outbox": {k: v for k, v in report.outbox.counts.items() if v},
        "oldest_due_seconds": report.outbox.oldest_pending_age_seconds,
        "mail_outage": report.outage.to_value() if report.outage else None,
        "problems": report.problems,
    }

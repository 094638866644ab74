"""Operator health checks: stale sources (here), an overdue outbox, a mail-server outage and
dead letters (the last three measured by delivery).

The deliver stage itself alerts operators about an overdue outbox (once an hour), an outage
(once per outage) and dead letters (once per run that made some); this module reports all of
them for `ipwarn status` and alerts operators about stale sources, once a day per source.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from sqlalchemy.orm import Session

from warning.config import Settings
from warning.delivery.outage import Outage, current_outage
from warning.delivery.outbox import OutboxSummary, enqueue_operator, outbox_summary
from warning.logging import get_logger
from warning.store.models import utcnow

log = get_logger(__name__)


@dataclass
class HealthReport:
    stale_sources: list[tuple[str, dt.datetime | None]]
    outbox: OutboxSummary
    outbox_limit_seconds: float
    #: the mail server's current outage, if a deliver run found it unavailable
    outage: Outage | None = None
    settings: Settings | None = None
    #: (source, consecutive failed crawls, last error) at or over the configured count
    failing_sources: list[tuple[str, int, str]] = field(default_factory=list)

    @property
    def outbox_overdue(self) -> bool:
        age = self.outbox.oldest_pending_age_seconds
        return age is not None and age > self.outbox_limit_seconds

    @property
    def source_problems(self) -> list[str]:
        return [
            f"source {name!r} has yielded nothing new since "
            f"{last.isoformat(timespec='minutes') if last else 'it was configured'}"
            for name, last in self.stale_sources
        ]

    @property
    def failing_problems(self) -> list[str]:
        return [
            f"source {name!r}: the last {streak} crawl(s) failed: {error}"
            for name, streak, error in self.failing_sources
        ]

    @property
    def problems(self) -> list[str]:
        out = self.failing_problems + self.source_problems
        if self.outbox_overdue:
            minutes = (self.outbox.oldest_pending_age_seconds or 0) / 60
            out.append(
                f"the oldest due outbox message has waited {minutes:.0f} min (run `ipwarn outbox`)"
            )
        if self.outage is not None and self.settings is not None:
            out.append(self.outage.describe(self.settings))
        dead = self.outbox.counts.get("dead", 0)
        if dead:
            out.append(
                f"{dead} dead letter(s) in the outbox: see `ipwarn outbox --dead`, requeue with "
                "`ipwarn outbox --requeue-dead all` once the address or server is fixed"
            )
        return out


def stale_sources(
    session: Session, settings: Settings, now: dt.datetime
) -> list[tuple[str, dt.datetime | None]]:
    from crawlers.health import stale_sources as crawler_stale

    return list(crawler_stale(session, settings, now))


def check(session: Session, settings: Settings, now: dt.datetime | None = None) -> HealthReport:
    from crawlers.health import failing_sources

    now = now or utcnow()
    return HealthReport(
        stale_sources(session, settings, now),
        outbox_summary(session, now),
        settings.outbox_stale_minutes * 60,
        current_outage(session),
        settings,
        [(n, k, run.error or run.status) for n, k, run in failing_sources(session, settings)],
    )


def notify_failing_sources(
    session: Session, settings: Settings, now: dt.datetime, *, only: str | None = None
) -> int:
    """Queue one operator message per failing source per day, once its crawls failed
    ``source_failure_alert_after`` times in a row (called after each failed crawl and by
    `ipwarn health`)."""
    from crawlers.health import failing_sources

    day = now.astimezone(settings.tz).date().isoformat()
    queued = 0
    for name, streak, run in failing_sources(session, settings):
        if only is not None and name != only:
            continue
        text = (
            f"数据源 {name} 连续 {streak} 次抓取失败（阈值 source_failure_alert_after = "
            f"{settings.source_failure_alert_after}）。\n最近一次（#{run.id}，"
            f"{run.started_at.astimezone(settings.tz):%Y-%m-%d %H:%M} {settings.timezone}）："
            f"{run.error or run.status}\n请检查 sources.{name}.base_url 与抓取日志 "
            f"{settings.data_dir / 'logs' / f'crawl-{name}.log'}，然后运行 `ipwarn crawl {name}`。\n"
        )
        log.warning("health.failing_source", source=name, streak=streak)
        queued += enqueue_operator(
            session,
            settings.operator_recipients,
            key=f"failing:{name}:{day}",
            subject=f"[ipwarn] 数据源抓取失败: {name}（连续 {streak} 次）",
            text=text,
            now=now,
        )
    return queued


def notify_operators(
    session: Session, settings: Settings, report: HealthReport, now: dt.datetime
) -> int:
    """Queue one operator message per stale or failing source per day (idempotent per day)."""
    day = now.astimezone(settings.tz).date().isoformat()
    queued = notify_failing_sources(session, settings, now)
    for (name, _), problem in zip(report.stale_sources, report.source_problems, strict=True):
        log.warning("health.stale_source", source=name, problem=problem)
        queued += enqueue_operator(
            session,
            settings.operator_recipients,
            key=f"stale:{name}:{day}",
            subject=f"[ipwarn] 数据源停滞: {name}",
            text=problem,
            now=now,
        )
    return queued

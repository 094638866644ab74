"""The ``deliver`` pipeline stage: send what is due, then warn operators about a stuck outbox,
a mail server that stays unavailable and dead letters (:mod:`warning.delivery.outage`)."""

from __future__ import annotations

import datetime as dt

from warning.config import Settings
from warning.delivery import outage
from warning.delivery.deliverer import RunCounts, deliver
from warning.delivery.outbox import cancel_unwanted, enqueue_operator, outbox_summary
from warning.delivery.transport import Transport, make_transport
from warning.logging import get_logger
from warning.pipeline import StageContext, StageResult
from warning.store.engine import Store

log = get_logger(__name__)


def run_deliver_stage(ctx: StageContext) -> StageResult:
    """Send due outbox rows (SMTP, or ``.eml`` files without ``smtp_host``) and report counts."""
    transport = ctx.options.get("transport") or make_transport(ctx.settings)
    with ctx.store.session() as session:
        cancelled = cancel_unwanted(session)
    # force (`ipwarn run --once --force`, the demo, `ipwarn deliver --flush`): send everything
    # queued now, ignoring digest times, quiet hours and back-offs
    counts = deliver(ctx.store, ctx.settings, transport, now=ctx.now, flush=ctx.force)
    outputs = list(transport.outputs)
    notices = outage.record_run(ctx.store, ctx.settings, ctx.now, counts)
    if not outage.notified(ctx.store):  # during an outage operators were told why already
        notices += int(check_stale(ctx.store, ctx.settings, ctx.now))
    if notices:
        counts.operator_alerts += notices
    if notices and not counts.server_unavailable:
        # the operator notice goes out in this run (a fresh transport: the first was closed);
        # while the server is down it waits in the outbox like any other mail
        second = make_transport(ctx.settings)
        more = deliver(ctx.store, ctx.settings, second, now=ctx.now)
        outage.record_run(ctx.store, ctx.settings, ctx.now, more)
        _add(counts, more)
        outputs.extend(second.outputs)
    counts.files = len(outputs)
    with ctx.store.session() as session:
        summary = outbox_summary(session, ctx.now)
    result_counts = counts.as_dict()
    result_counts["cancelled"] = cancelled
    result_counts["pending"] = summary.counts["pending"] + summary.counts["retrying"]
    if summary.oldest_pending_age_seconds is not None:
        result_counts["oldest_pending_age_seconds"] = summary.oldest_pending_age_seconds
    notes = []
    if not ctx.settings.smtp_host:
        notes.append(f"no smtp_host: mail written to {ctx.settings.outbox_dir}")
    if counts.error:
        notes.append(f"mail server unavailable, the rest is retried later: {counts.error}")
    note = "; ".join(notes)
    return StageResult(status="ok", counts=result_counts, note=note, outputs=outputs)


def check_stale(store: Store, settings: Settings, now: dt.datetime) -> bool:
    """Queue one operator notice per hour while the oldest due row waits too long."""
    with store.session() as session:
        summary = outbox_summary(session, now)
        age = summary.oldest_pending_age_seconds
        if age is None or age < settings.outbox_stale_minutes * 60:
            return False
        log.error(
            "outbox.stale",
            oldest_age_seconds=age,
            row=summary.oldest_pending_id,
            threshold_minutes=settings.outbox_stale_minutes,
        )
        if not settings.operator_recipients:
            return False
        local = now.astimezone(settings.tz)
        text = (
            f"ipwarn 发件箱积压：最早一条待发送邮件（#{summary.oldest_pending_id}）已逾期 "
            f"{age / 60:.0f} 分钟，超过阈值 {settings.outbox_stale_minutes:g} 分钟。\n"
            f"各状态数量：{summary.counts}\n"
            "请检查 SMTP 服务器与 `ipwarn outbox` 的输出（死信见 `ipwarn outbox --dead`）。\n"
        )
        created = enqueue_operator(
            session,
            settings.operator_recipients,
            key=f"outbox-stale:{local:%Y%m%d%H}",
            subject=f"【ipwarn 运维】发件箱积压 {age / 60:.0f} 分钟",
            text=text,
            now=now,
        )
    return created > 0


def _add(total: RunCounts, more: RunCounts) -> None:
    for key, value in more.as_dict().items():
        if key not in ("operator_alerts", "server_unavailable"):
            setattr(total, key, getattr(total, key) + value)
    total.server_unavailable = max(total.server_unavailable, more.server_unavailable)
    total.error = total.error or more.error


__all__ = ["Transport", "run_deliver_stage"]

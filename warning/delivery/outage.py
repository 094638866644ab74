"""Mail-server outages and dead letters, recorded once and told to operators.

An outage is charged to the outage, not to the rows waiting behind it: every deliver run that
finds the server unavailable adds one run to a single ``app_state`` record ("since", "runs",
last error); the first run that sends again closes it. When the server has been unavailable for
``smtp_outage_notice_minutes`` an operator notice is queued (once per outage; it goes out when
the server is back, and `ipwarn status` shows the outage meanwhile). Rows that go dead in a run
are listed in one operator notice as well (operator notices themselves excepted, so a dead
operator address cannot feed itself).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from warning.config import Settings
from warning.delivery.deliverer import RunCounts
from warning.delivery.outbox import enqueue_operator
from warning.logging import get_logger
from warning.store.engine import Store
from warning.store.models import AppState, OutboxMessage
from warning.store.upsert import dialect_insert

log = get_logger(__name__)

OUTAGE_KEY = "delivery.outage"
#: dead letters listed in one operator notice
LISTED_DEAD = 20


@dataclass(frozen=True)
class Outage:
    since: dt.datetime
    last_seen: dt.datetime
    #: deliver runs that found the server unavailable
    runs: int
    error: str
    notified: bool = False

    @property
    def seconds(self) -> float:
        """How long the server has been seen unavailable (first to latest failed run)."""
        return (self.last_seen - self.since).total_seconds()

    @classmethod
    def from_value(cls, value: dict[str, Any]) -> Outage | None:
        try:
            return cls(
                since=dt.datetime.fromisoformat(value["since"]),
                last_seen=dt.datetime.fromisoformat(value["last_seen"]),
                runs=int(value["runs"]),
                error=str(value.get("error") or ""),
                notified=bool(value.get("notified")),
            )
        except (KeyError, TypeError, ValueError):
            return None

    def to_value(self) -> dict[str, Any]:
        return {
            "since": self.since.isoformat(),
            "last_seen": self.last_seen.isoformat(),
            "runs": self.runs,
            "error": self.error,
            "notified": self.notified,
        }

    def describe(self, settings: Settings) -> str:
        since = self.since.astimezone(settings.tz)
        return (
            f"the mail server has been unavailable since {since:%Y-%m-%d %H:%M} "
            f"({self.seconds / 60:.0f} min, {self.runs} deliver runs; last error: {self.error}); "
            "nothing is lost and no row is charged: mail goes out when it is back"
        )


def current_outage(session: Session) -> Outage | None:
    state = session.get(AppState, OUTAGE_KEY)
    return Outage.from_value(state.value) if state is not None and state.value else None


def notified(store: Store) -> bool:
    """Is there an outage that operators have been told about?"""
    with store.session() as session:
        outage = current_outage(session)
    return outage is not None and outage.notified


def record_run(store: Store, settings: Settings, now: dt.datetime, counts: RunCounts) -> int:
    """Update the outage record from one run's counts; returns operator notices queued."""
    if not (counts.server_unavailable or counts.dead_rows):
        if not counts.messages:
            return 0
        with store.session() as session:  # most runs: no outage to close, no write lock taken
            if session.get(AppState, OUTAGE_KEY) is None:
                return 0
    queued = 0
    with store.write_session() as session:
        if counts.server_unavailable:
            queued += _still_down(session, settings, now, counts.error or "unavailable")
        elif counts.messages:
            queued += _back(session, settings, now)
        queued += _dead_letters(session, settings, now, counts.dead_rows)
    return queued


def _locked_state(session: Session, now: dt.datetime) -> AppState:
    # insert-if-missing, then lock: two deliverers on PostgreSQL cannot both create it
    session.execute(
        dialect_insert(session, AppState.__table__)
        .values(key=OUTAGE_KEY, value={}, updated_at=now)
        .on_conflict_do_nothing(index_elements=["key"])
    )
    return session.execute(
        select(AppState).where(AppState.key == OUTAGE_KEY).with_for_update()
    ).scalar_one()


def _still_down(session: Session, settings: Settings, now: dt.datetime, error: str) -> int:
    state = _locked_state(session, now)
    before = Outage.from_value(state.value)
    outage = Outage(
        since=before.since if before else now,
        last_seen=max(before.last_seen, now) if before else now,
        runs=(before.runs if before else 0) + 1,
        error=error[:500],
        notified=before.notified if before else False,
    )
    queued = 0
    if not outage.notified and outage.seconds >= settings.smtp_outage_notice_minutes * 60:
        log.error("deliver.outage", since=outage.since.isoformat(), runs=outage.runs, error=error)
        queued = enqueue_operator(
            session,
            settings.operator_recipients,
            key=f"smtp-outage:{outage.since.isoformat()}",
            subject=f"【ipwarn 运维】邮件服务器不可用已 {outage.seconds / 60:.0f} 分钟",
            text=(
                f"ipwarn 无法使用邮件服务器 {settings.smtp_host or settings.outbox_dir}"
                f"（自 {outage.since.astimezone(settings.tz):%Y-%m-%d %H:%M} 起，"
                f"{outage.runs} 次投递均失败）。\n最后错误：{error}\n"
                "待发邮件均保留，不计入重试次数；服务器恢复后自动发送。"
                "请检查 SMTP 服务器与网络（`ipwarn status`）。\n"
            ),
            now=now,
        )
        outage = Outage(**{**outage.__dict__, "notified": True})
    state.value = outage.to_value()
    state.updated_at = now
    return queued


def _back(session: Session, settings: Settings, now: dt.datetime) -> int:
    state = session.get(AppState, OUTAGE_KEY)
    outage = Outage.from_value(state.value) if state is not None and state.value else None
    if state is None:
        return 0
    session.delete(state)
    if outage is None:
        return 0
    log.warning(
        "deliver.server_back",
        since=outage.since.isoformat(),
        down_seconds=round((now - outage.since).total_seconds()),
        runs=outage.runs,
    )
    if not outage.notified:
        return 0
    return enqueue_operator(
        session,
        settings.operator_recipients,
        key=f"smtp-back:{outage.since.isoformat()}",
        subject="【ipwarn 运维】邮件服务器已恢复",
        text=(
            f"邮件服务器自 {outage.since.astimezone(settings.tz):%Y-%m-%d %H:%M} 起不可用，"
            f"已于 {now.astimezone(settings.tz):%Y-%m-%d %H:%M} 恢复，积压邮件正在发送。\n"
        ),
        now=now,
    )


def _dead_letters(session: Session, settings: Settings, now: dt.datetime, ids: list[int]) -> int:
    if not ids:
        return 0
    rows = list(
        session.scalars(
            select(OutboxMessage)
            .where(
                OutboxMessage.id.in_(ids),
                OutboxMessage.status == "dead",
                OutboxMessage.kind != "operator",
            )
            .order_by(OutboxMessage.id)
        )
    )
    if not rows:
        return 0
    log.error("deliver.dead_letters", rows=len(rows), first=rows[0].id)
    lines = [
        f"#{r.id} {r.kind} → {r.recipient}（{r.attempts} 次）：{r.last_error or ''}"
        for r in rows[:LISTED_DEAD]
    ]
    if len(rows) > LISTED_DEAD:
        lines.append(f"……另有 {len(rows) - LISTED_DEAD} 条")
    return enqueue_operator(
        session,
        settings.operator_recipients,
        key=f"dead-letters:{now:%Y%m%dT%H%M%S}:{rows[0].id}:{len(rows)}",
        subject=f"【ipwarn 运维】{len(rows)} 封邮件无法投递（死信）",
        text=(
            "以下邮件已放弃投递（服务器拒收，或重试次数与时限均已用尽）：\n"
            + "\n".join(lines)
            + "\n\n查看：`ipwarn outbox --dead`；修复地址或服务器后重新排队："
            "`ipwarn outbox --requeue-dead all`（或行号）。\n"
        ),
        now=now,
    )

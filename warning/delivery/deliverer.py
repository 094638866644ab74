"""The deliverer: claim due outbox rows, send them grouped, and mark the outcome.

Claiming is a short transaction (PostgreSQL ``FOR UPDATE SKIP LOCKED``; SQLite ``BEGIN
IMMEDIATE`` via :meth:`Store.write_session`) that marks rows ``sending`` with our worker id and
stores each group's deterministic Message-ID *before* sending. Sending happens outside any
transaction; each group is then marked in its own transaction. A deliverer that dies between
send and mark leaves rows ``sending``; once their lease runs out another deliverer re-sends them
with the same Message-ID, so a mail client folds the duplicate. Several deliverers may run at
once: a row is only ever claimed by one of them at a time.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import random
import socket
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import parseaddr
from typing import Any

from sqlalchemy import and_, or_, select, update
from sqlalchemy.orm import Session

from warning.config import Settings
from warning.delivery import policy
from warning.delivery.links import feedback_urls, mute_url
from warning.delivery.message import (
    AlertView,
    AttachmentMissing,
    build_alert_email,
    build_payload_email,
    explanation_rows,
    mail_domain,
    make_message_id,
    public_record_url,
    valid_address,
)
from warning.delivery.schedule import group_frequency
from warning.delivery.transport import ServerUnavailable, Transport
from warning.errors import DeliveryError
from warning.logging import get_logger
from warning.store.engine import Store
from warning.store.models import Alert, Document, Enterprise, LegalEvent, OutboxMessage, Rule
from warning.taxonomy import load_taxonomy

log = get_logger(__name__)

#: groups claimed per claim transaction (the lease covers sending all of them)
MAX_GROUPS_PER_CLAIM = 25
ROWS_PER_CLAIM = 500
MAX_BACKOFF_SECONDS = 6 * 3600.0
DIGEST_LABELS = {"daily": "每日汇总", "weekly": "每周汇总"}


def lease_seconds(settings: Settings) -> float:
    """How long a claim is honoured: every claimed group may take the full send timeout."""
    return settings.smtp_timeout_seconds * (MAX_GROUPS_PER_CLAIM + 1) + 60.0


def row_due(row: OutboxMessage) -> dt.datetime:
    """When the row first became due (retries move ``due_at``, not this)."""
    first = (row.payload or {}).get("first_due_at")
    if isinstance(first, str):
        try:
            return dt.datetime.fromisoformat(first)
        except ValueError:
            pass
    return row.due_at


def new_worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def backoff_seconds(attempts: int, settings: Settings, rng: random.Random | None = None) -> float:
    """Exponential back-off with "equal jitter": half fixed, half random, capped at 6 hours."""
    base = min(settings.retry_base_seconds * 2 ** max(attempts - 1, 0), MAX_BACKOFF_SECONDS)
    return base / 2 + (rng or random).uniform(0, base / 2)


@dataclass
class Group:
    """One email: claimed rows sharing a recipient and group (or one digest/operator row)."""

    kind: str
    recipient: str
    group_key: str | None
    message_id: str
    row_ids: list[int]
    attempts: int
    enterprise_id: str | None = None
    alert_ids: list[int] = field(default_factory=list)
    payload: dict[str, Any] = field(default_factory=dict)


@dataclass
class RunCounts:
    sent: int = 0
    messages: int = 0
    retrying: int = 0
    dead: int = 0
    suppressed: int = 0
    rolled_over: int = 0
    files: int = 0
    operator_alerts: int = 0
    #: 1 when the run stopped early because the mail server could not be used
    server_unavailable: int = 0
    #: why it stopped (not a count; kept out of :meth:`as_dict`)
    error: str | None = None

    def as_dict(self) -> dict[str, int | float]:
        return {k: v for k, v in self.__dict__.items() if k != "error"}


def _claimable(now: dt.datetime, settings: Settings, flush: bool = False) -> Any:
    stale = now - dt.timedelta(seconds=lease_seconds(settings))
    due = OutboxMessage.due_at <= now if not flush else OutboxMessage.id.is_not(None)
    return or_(
        and_(OutboxMessage.status.in_(("pending", "retrying")), due),
        and_(OutboxMessage.status == "sending", OutboxMessage.claimed_at < stale),
    )


def _group_rows(rows: Sequence[OutboxMessage]) -> dict[tuple[str, ...], list[OutboxMessage]]:
    groups: dict[tuple[str, ...], list[OutboxMessage]] = {}
    for row in rows:
        if row.message_id:
            key: tuple[str, ...] = ("mid", row.message_id, row.recipient.lower())
        elif row.kind == "alert":
            key = ("alert", row.recipient.lower(), row.group_key or f"row:{row.id}")
        else:
            key = (row.kind, f"row:{row.id}")
        groups.setdefault(key, []).append(row)
    return groups


def claim(
    store: Store,
    worker: str,
    now: dt.datetime,
    settings: Settings,
    counts: RunCounts,
    *,
    flush: bool = False,
) -> list[Group]:
    """Claim up to :data:`MAX_GROUPS_PER_CLAIM` due groups; apply silences, inhibition, cap.

    ``flush`` claims queued rows whatever their due time (digests, quiet hours, back-offs).
    """
    domain = mail_domain(settings.mail_from)
    with store.write_session() as session:
        stmt = (
            select(OutboxMessage)
            .where(_claimable(now, settings, flush))
            .order_by(
                OutboxMessage.due_at,
                OutboxMessage.recipient,
                OutboxMessage.group_key,
                OutboxMessage.id,
            )
            .limit(ROWS_PER_CLAIM)
        )
        if not store.is_sqlite:
            stmt = stmt.with_for_update(skip_locked=True)
        rows = list(session.scalars(stmt))
        if not rows:
            return []
        grouped = list(_group_rows(rows).values())[:MAX_GROUPS_PER_CLAIM]
        fresh = [r for g in grouped for r in g if r.kind == "alert" and not r.message_id]
        held = _apply_policies(session, fresh, now, settings, counts)
        claimed: list[Group] = []
        for rows_of_group in grouped:
            live = [r for r in rows_of_group if r.id not in held]
            if not live:
                continue
            first = live[0]
            ids = sorted(r.id for r in live)
            message_id = first.message_id or make_message_id(
                [first.kind, first.recipient.lower(), first.group_key or "", *ids]
                if first.kind == "alert"
                else [first.kind, first.idempotency_key],
                domain,
            )
            for row in live:
                row.status = "sending"
                row.claimed_by = worker
                row.claimed_at = now
                row.message_id = message_id
            claimed.append(
                Group(
                    kind=first.kind,
                    recipient=first.recipient,
                    group_key=first.group_key,
                    message_id=message_id,
                    row_ids=ids,
                    attempts=max(r.attempts for r in live),
                    enterprise_id=first.enterprise_id,
                    alert_ids=sorted({r.alert_id for r in live if r.alert_id is not None}),
                    payload=dict(first.payload or {}),
                )
            )
        return claimed


def _apply_policies(
    session: Session,
    rows: list[OutboxMessage],
    now: dt.datetime,
    settings: Settings,
    counts: RunCounts,
) -> set[int]:
    """Suppress or roll over fresh alert rows; returns the ids that are not sent now."""
    if not rows:
        return set()
    facts = policy.load_facts(session, [r.alert_id for r in rows if r.alert_id is not None])
    silences = policy.active_silences(session, now)
    held: set[int] = set()
    suppressed_alerts: set[int] = set()
    for row in rows:
        f = facts.get(row.alert_id or -1)
        silence = policy.silence_for(row, f, silences) if f else None
        if silence is not None:
            row.status = "suppressed"
            row.last_error = (
                f"silenced by silence #{silence.id} ({silence.kind} {silence.target}) until "
                f"{silence.until:%Y-%m-%d %H:%M}Z: {silence.reason}".strip().rstrip(":")
            )
            held.add(row.id)
            suppressed_alerts.add(row.alert_id or 0)
    remaining = [r for r in rows if r.id not in held]
    for row_id, lapse_alert in policy.inhibited_by(remaining, facts).items():
        row = next(r for r in remaining if r.id == row_id)
        row.status = "suppressed"
        row.last_error = f"inhibited by lapse/invalidation alert #{lapse_alert} on the same patent"
        held.add(row_id)
        suppressed_alerts.add(row.alert_id or 0)
    remaining = [r for r in rows if r.id not in held]
    over = policy.over_cap(session, remaining, facts, now, settings)
    for row in remaining:
        if row.id in over:
            policy.roll_over(row, now, settings)
            held.add(row.id)
            counts.rolled_over += 1
    counts.suppressed += sum(1 for r in rows if r.status == "suppressed")
    if suppressed_alerts:
        session.execute(
            update(Alert)
            .where(Alert.id.in_(suppressed_alerts), Alert.status != "sent")
            .values(status="suppressed")
        )
    return held


def load_views(
    store: Store, groups: list[Group], settings: Settings, now: dt.datetime
) -> dict[int, AlertView]:
    """Everything the alert cards show, read once for all claimed groups."""
    alert_ids = sorted({a for g in groups for a in g.alert_ids})
    if not alert_ids:
        return {}
    taxonomy = load_taxonomy()
    known_sectors = set(taxonomy.labels)
    views: dict[int, AlertView] = {}
    with store.session() as session:
        rows = session.execute(
            select(Alert, Rule, Document, LegalEvent)
            .join(Rule, Rule.id == Alert.rule_pk)
            .outerjoin(Document, Document.id == Alert.document_id)
            .outerjoin(LegalEvent, LegalEvent.id == Alert.legal_event_id)
            .where(Alert.id.in_(alert_ids))
        ).all()
        for alert, rule, document, event in rows:
            views[alert.id] = alert_view(alert, rule, document, event, settings, known_sectors, now)
    return views


def alert_view(
    alert: Alert,
    rule: Rule,
    document: Document | None,
    event: LegalEvent | None,
    settings: Settings,
    known_sectors: set[str],
    now: dt.datetime,
) -> AlertView:
    exp: dict[str, Any] = alert.explanation if isinstance(alert.explanation, dict) else {}
    sector = str(alert.sector or exp.get("sector") or "")
    sector_name = load_taxonomy().name_zh(sector) if sector in known_sectors else sector
    raw_rule = exp.get("rule")
    rule_info: dict[str, Any] = raw_rule if isinstance(raw_rule, dict) else {}
    number = str(exp.get("number") or (document.number if document else "") or "")
    fallbacks: dict[str, Any] = {}
    if document is not None:
        fallbacks.update(applicants=document.applicants, source=document.source)
    if alert.as_of is not None:
        fallbacks["as_of"] = alert.as_of.isoformat()
    if event is not None:
        fallbacks["legal_event"] = {
            "code": event.code,
            "category": event.category,
            "description": event.description,
            "date": event.event_date.isoformat(),
        }
    return AlertView(
        alert_id=alert.id,
        rule_id=alert.rule_id,
        rule_title=str(exp.get("rule_title") or rule_info.get("title") or rule.title),
        rule_version=exp.get("rule_version") or rule_info.get("version") or alert.rule_version,
        severity=str(exp.get("severity") or alert.severity or "").lower(),
        sector=sector,
        sector_name=sector_name,
        enterprise_id=alert.enterprise_id,
        number=number,
        title=str(exp.get("title") or (document.title if document else "") or ""),
        rows=explanation_rows(exp, fallbacks, sector_names(known_sectors)),
        record_url=public_record_url(number),
        mute_url=mute_url(
            settings.public_base_url,
            settings.link_secret.get_secret_value() if settings.link_secret else None,
            rule_id=alert.rule_id,
            enterprise_id=alert.enterprise_id,
            now=now,
        ),
        feedback_urls=feedback_urls(
            settings.public_base_url,
            settings.link_secret.get_secret_value() if settings.link_secret else None,
            alert_id=alert.id,
            enterprise_id=alert.enterprise_id,
            now=now,
        ),
        document_id=alert.document_id,
    )


def sector_names(known: set[str]) -> dict[str, str]:
    taxonomy = load_taxonomy()
    return {sector: taxonomy.name_zh(sector) for sector in known}


def enterprise_names(store: Store, groups: list[Group]) -> dict[str, str]:
    ids = {g.enterprise_id for g in groups if g.enterprise_id}
    if not ids:
        return {}
    with store.session() as session:
        found = session.execute(
            select(Enterprise.id, Enterprise.name).where(Enterprise.id.in_(ids))
        )
        return {enterprise_id: name for enterprise_id, name in found}


class Deliverer:
    """Sends everything due through one transport, claim by claim, until nothing is due."""

    def __init__(
        self,
        store: Store,
        settings: Settings,
        transport: Transport,
        *,
        now: dt.datetime,
        worker: str | None = None,
        rng: random.Random | None = None,
        flush: bool = False,
    ) -> None:
        self.store = store
        self.settings = settings
        self.transport = transport
        self.now = now
        self.flush = flush
        self.worker = worker or new_worker_id()
        self.rng = rng or random.Random()
        self.counts = RunCounts()
        self.stopped: str | None = None
        self.sender = parseaddr(settings.mail_from)[1] or "ipwarn@localhost"

    async def run(self) -> RunCounts:
        seen: set[int] = set()
        while self.stopped is None:
            groups = claim(
                self.store, self.worker, self.now, self.settings, self.counts, flush=self.flush
            )
            if not groups:
                break
            # a group tried once in this run (it failed; flush ignores its back-off) waits
            again = [g for g in groups if seen.intersection(g.row_ids)]
            if again:
                self._release(again)
            fresh = [g for g in groups if not seen.intersection(g.row_ids)]
            if not fresh:
                break
            for g in fresh:
                seen.update(g.row_ids)
            await self._send_groups(fresh)
        return self.counts

    async def _send_groups(self, groups: list[Group]) -> None:
        """Send the claimed groups, up to ``transport.max_parallel`` at once."""
        views = load_views(self.store, groups, self.settings, self.now)
        names = enterprise_names(self.store, groups)
        gate = asyncio.Semaphore(self.transport.max_parallel)

        async def one(group: Group) -> None:
            async with gate:
                if self.stopped is not None:
                    self._release([group])
                    return
                await self._send_group(group, views, names)

        await asyncio.gather(*(one(g) for g in groups))

    async def _send_group(
        self, group: Group, views: dict[int, AlertView], names: dict[str, str]
    ) -> None:
        try:
            message = self._build(group, views, names)
        except (AttachmentMissing, ValueError) as exc:
            self._mark_failed(group, DeliveryError(str(exc), retryable=False))
            return
        try:
            await self.transport.send(message, self.sender, group.recipient)
        except ServerUnavailable as exc:
            self._mark_failed(group, exc)
            if self.stopped is None:
                self.stopped = str(exc)
                self.counts.server_unavailable = 1
                self.counts.error = str(exc)
                log.warning("deliver.server_unavailable", error=str(exc))
        except DeliveryError as exc:
            self._mark_failed(group, exc)
        else:
            self._mark_sent(group)

    def _build(
        self, group: Group, views: dict[int, AlertView], names: dict[str, str]
    ) -> EmailMessage:
        if not valid_address(group.recipient):
            raise ValueError(f"invalid recipient address {group.recipient!r}")
        if group.kind == "alert":
            alerts = [views[a] for a in group.alert_ids if a in views]
            if not alerts:
                raise ValueError(f"alerts {group.alert_ids} not found")
            return build_alert_email(
                alerts,
                mail_from=self.settings.mail_from,
                recipient=group.recipient,
                enterprise_name=names.get(group.enterprise_id or "", ""),
                digest_label=DIGEST_LABELS.get(group_frequency(group.group_key), ""),
                message_id=group.message_id,
                now=self.now,
                tz=self.settings.tz,
            )
        return build_payload_email(
            group.payload,
            mail_from=self.settings.mail_from,
            recipient=group.recipient,
            message_id=group.message_id,
            now=self.now,
            inline_images=group.kind == "digest",
        )

    def _mine(self, group: Group) -> Any:
        return and_(
            OutboxMessage.id.in_(group.row_ids),
            OutboxMessage.claimed_by == self.worker,
            OutboxMessage.status == "sending",
        )

    def _mark_sent(self, group: Group) -> None:
        with self.store.write_session() as session:
            session.execute(
                update(OutboxMessage)
                .where(self._mine(group))
                .values(
                    status="sent", sent_at=self.now, attempts=group.attempts + 1, last_error=None
                )
            )
            if group.alert_ids:
                session.execute(
                    update(Alert).where(Alert.id.in_(group.alert_ids)).values(status="sent")
                )
        self.counts.sent += len(group.row_ids)
        self.counts.messages += 1
        log.info(
            "deliver.sent",
            recipient=group.recipient,
            message_id=group.message_id,
            rows=len(group.row_ids),
            kind=group.kind,
        )

    def _mark_failed(self, group: Group, error: DeliveryError) -> None:
        attempts = group.attempts + 1
        final = not error.retryable or attempts >= self.settings.max_send_attempts
        values: dict[str, Any] = {"attempts": attempts, "claimed_by": None}
        if final:
            reason = (
                str(error) if not error.retryable else f"gave up after {attempts} attempts: {error}"
            )
            values.update(status="dead", last_error=reason[:2000])
        else:
            delay = backoff_seconds(attempts, self.settings, self.rng)
            values.update(
                status="retrying",
                last_error=str(error)[:2000],
                due_at=self.now + dt.timedelta(seconds=delay),
            )
        with self.store.write_session() as session:
            for row in session.scalars(select(OutboxMessage).where(self._mine(group))):
                if not final and "first_due_at" not in (row.payload or {}):
                    # remembered so that `ipwarn outbox` can tell how late a retried row is
                    row.payload = {**(row.payload or {}), "first_due_at": row_due(row).isoformat()}
                for key, value in values.items():
                    setattr(row, key, value)
        if final:
            self.counts.dead += len(group.row_ids)
        else:
            self.counts.retrying += len(group.row_ids)
        log.warning(
            "deliver.failed",
            recipient=group.recipient,
            final=final,
            attempts=attempts,
            error=str(error),
        )

    def _release(self, groups: list[Group]) -> None:
        """Give back groups not attempted (server unavailable): due again at once next run."""
        with self.store.write_session() as session:
            for group in groups:
                session.execute(
                    update(OutboxMessage)
                    .where(self._mine(group))
                    .values(status="retrying" if group.attempts else "pending", claimed_by=None)
                )


def deliver(
    store: Store,
    settings: Settings,
    transport: Transport,
    *,
    now: dt.datetime,
    worker: str | None = None,
    flush: bool = False,
) -> RunCounts:
    """Synchronous entry point: send what is due through ``transport`` and close it."""

    async def _run() -> RunCounts:
        deliverer = Deliverer(store, settings, transport, now=now, worker=worker, flush=flush)
        try:
            return await deliverer.run()
        finally:
            await transport.close()

    return asyncio.run(_run())

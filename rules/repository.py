"""Rules and subscriptions in the database: immutable rule versions, status changes, imports."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from rules.engine import CompiledRule, CompiledSubscription
from rules.loader import LoadedRule, repeated_name
from rules.spec import (
    SCOPE_KEYS,
    STORED,
    EnterpriseSpec,
    RuleSpec,
    Scope,
    SubscriptionFile,
    SubscriptionSpec,
    did_you_mean,
)
from warning.delivery.outbox import cancel_unwanted
from warning.errors import InputError, Problem
from warning.store.models import Enterprise, Rule, Subscription

LIVE_STATUSES = ("active", "test")


@dataclass
class SyncReport:
    inserted: list[str] = field(default_factory=list)
    unchanged: int = 0
    problems: list[Problem] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def sync_rules(session: Session, loaded: list[LoadedRule], now: dt.datetime) -> SyncReport:
    """Store new rule versions; a stored version whose content changed is a problem, not an update."""
    report = SyncReport()
    for rule in loaded:
        spec = rule.spec
        stored = session.execute(
            select(Rule).where(Rule.rule_id == spec.id, Rule.version == spec.version)
        ).scalar_one_or_none()
        if stored is not None:
            if stored.checksum != rule.checksum:
                report.problems.append(
                    Problem(
                        f"rule {spec.id} version {spec.version} is already stored with different content "
                        f"(from {stored.source_file}); versions are immutable: bump the version",
                        file=rule.file,
                        line=rule.line,
                        field="version",
                    )
                )
            else:
                report.unchanged += 1
                if stored.status != spec.status:
                    report.notes.append(
                        f"{rule.file}: {spec.id} v{spec.version} is {stored.status!r} in the store, "
                        f"{spec.status!r} in the file; use `ipwarn rules activate|retire`"
                    )
            continue
        session.add(
            Rule(
                rule_id=spec.id,
                version=spec.version,
                title=spec.title,
                severity=spec.severity,
                status=spec.status,
                definition=rule.definition,
                checksum=rule.checksum,
                source_file=rule.file,
                created_at=now,
                activated_at=now if spec.status == "active" else None,
            )
        )
        session.flush()
        if spec.status == "active":
            _retire_others(session, spec.id, spec.version, now)
        report.inserted.append(f"{spec.id}@{spec.version}")
    return report


def _retire_others(session: Session, rule_id: str, version: int, now: dt.datetime) -> None:
    """One active version per rule: activating a version retires the others."""
    others = session.execute(
        select(Rule).where(
            Rule.rule_id == rule_id, Rule.version != version, Rule.status == "active"
        )
    ).scalars()
    for other in others:
        other.status = "retired"
        other.retired_at = now


def set_status(session: Session, rule_id: str, version: int, status: str, now: dt.datetime) -> Rule:
    rule = session.execute(
        select(Rule).where(Rule.rule_id == rule_id, Rule.version == version)
    ).scalar_one_or_none()
    if rule is None:
        known = session.execute(select(Rule.version).where(Rule.rule_id == rule_id)).scalars().all()
        hint = f"stored versions: {sorted(known)}" if known else "run `ipwarn rules sync` first"
        raise InputError(
            [Problem(f"no stored rule {rule_id} version {version}; {hint}", field="ID VERSION")]
        )
    rule.status = status
    if status == "active":
        rule.activated_at = now
        rule.retired_at = None
        _retire_others(session, rule_id, version, now)
    elif status == "retired":
        rule.retired_at = now
    return rule


def compiled_rules(
    session: Session, statuses: tuple[str, ...] = LIVE_STATUSES
) -> list[CompiledRule]:
    rows = session.execute(
        select(Rule).where(Rule.status.in_(statuses)).order_by(Rule.rule_id, Rule.version)
    ).scalars()
    out = []
    for row in rows:
        data: dict[str, Any] = {**row.definition, "status": row.status}
        spec = RuleSpec.model_validate(data, context=STORED)
        out.append(CompiledRule.build(spec, pk=row.id))
    return out


def active_rule_versions(session: Session) -> dict[str, CompiledRule]:
    return {r.id: r for r in compiled_rules(session, ("active",))}


def compiled_subscriptions(session: Session) -> list[CompiledSubscription]:
    rows = session.execute(
        select(Subscription, Enterprise)
        .join(Enterprise, Enterprise.id == Subscription.enterprise_id)
        .where(Subscription.active.is_(True))
        .order_by(Subscription.enterprise_id, Subscription.id)
    ).all()
    out = []
    for sub, enterprise in rows:
        spec = spec_of(sub)
        out.append(
            CompiledSubscription.build(
                enterprise.id, enterprise.name, enterprise.recipients, spec, sub.id
            )
        )
    return out


def compiled_from_file(parsed: SubscriptionFile) -> list[CompiledSubscription]:
    return [
        CompiledSubscription.build(e.id, e.name, e.recipients, s)
        for e in parsed.enterprises
        for s in e.subscriptions
        if s.active
    ]


@dataclass
class ImportReport:
    enterprises_new: int = 0
    enterprises_updated: int = 0
    subscriptions_new: int = 0
    subscriptions_updated: int = 0
    subscriptions_deactivated: int = 0
    #: queued mail cancelled (recipient removed, subscription deactivated)
    queued_cancelled: int = 0


def subscription_values(spec: SubscriptionSpec) -> dict[str, Any]:
    """The stored columns of a validated subscription (file import and console edits)."""
    return {
        "scope": spec.scope.model_dump(mode="json", exclude_defaults=True),
        "frequency": spec.frequency,
        "quiet_start": spec.quiet_start,
        "quiet_end": spec.quiet_end,
        "daily_cap": spec.daily_cap,
        "active": spec.active,
    }


def spec_of(sub: Subscription) -> SubscriptionSpec:
    """A stored subscription as the spec it was validated from."""
    return SubscriptionSpec(
        name=sub.name,
        scope=Scope.model_validate(sub.scope),
        frequency=sub.frequency,
        quiet_hours=f"{sub.quiet_start}-{sub.quiet_end}"
        if sub.quiet_start and sub.quiet_end
        else None,
        daily_cap=sub.daily_cap,
        active=sub.active,
    )


def import_subscriptions(
    session: Session, parsed: SubscriptionFile, now: dt.datetime
) -> ImportReport:
    """Upsert enterprises and their subscriptions; the file is the truth for the enterprises in it."""
    report = ImportReport()
    for ent in parsed.enterprises:
        row = session.get(Enterprise, ent.id)
        if row is None:
            row = Enterprise(
                id=ent.id, name=ent.name, recipients=ent.recipients, created_at=now, updated_at=now
            )
            session.add(row)
            report.enterprises_new += 1
        elif row.name != ent.name or row.recipients != ent.recipients:
            row.name, row.recipients, row.updated_at = ent.name, list(ent.recipients), now
            report.enterprises_updated += 1
        session.flush()
        existing = {
            s.name: s
            for s in session.execute(
                select(Subscription).where(Subscription.enterprise_id == ent.id)
            ).scalars()
        }
        for spec in ent.subscriptions:
            values = subscription_values(spec)
            sub = existing.pop(spec.name, None)
            if sub is None:
                session.add(
                    Subscription(
                        enterprise_id=ent.id,
                        name=spec.name,
                        created_at=now,
                        updated_at=now,
                        **values,
                    )
                )
                report.subscriptions_new += 1
            elif any(getattr(sub, k) != v for k, v in values.items()):
                for key, value in values.items():
                    setattr(sub, key, value)
                sub.updated_at = now
                report.subscriptions_updated += 1
        for sub in existing.values():
            if sub.active:
                sub.active = False
                sub.updated_at = now
                report.subscriptions_deactivated += 1
    session.flush()
    report.queued_cancelled = cancel_unwanted(session)
    return report


def add_subscription(
    session: Session, enterprise_id: str, new: dict[str, Any], now: dt.datetime
) -> tuple[Subscription, ImportReport]:
    """Add one subscription to an existing enterprise through :func:`import_subscriptions`.

    The enterprise is re-imported as the file import would see it (its name, recipients and
    every stored subscription, plus ``new`` as its first subscription), so ``new`` is validated
    by :class:`rules.spec.EnterpriseSpec` exactly as a YAML import (a pydantic
    ``ValidationError`` names ``subscriptions.0.<field>``) and stored by the same code. A name
    the enterprise already has is refused as the file loader refuses a repeated name.
    Raises ``LookupError`` for an unknown enterprise.
    """
    enterprise = session.get(Enterprise, enterprise_id)
    if enterprise is None:
        raise LookupError(enterprise_id)
    stored = list(
        session.scalars(
            select(Subscription)
            .where(Subscription.enterprise_id == enterprise_id)
            .order_by(Subscription.id)
        )
    )
    name = new.get("name", "default")
    if any(sub.name == name for sub in stored):
        raise InputError(
            [Problem(repeated_name(name, "it already has one of that name"), field="name")],
            hint="Nothing was created.",
        )
    spec = EnterpriseSpec.model_validate(
        {
            "id": enterprise.id,
            "name": enterprise.name,
            "recipients": list(enterprise.recipients),
            "subscriptions": [new, *(spec_of(sub) for sub in stored)],
        }
    )
    report = import_subscriptions(session, SubscriptionFile(enterprises=[spec]), now)
    added = session.scalars(
        select(Subscription).where(
            Subscription.enterprise_id == enterprise_id,
            Subscription.name == spec.subscriptions[0].name,
        )
    ).one()
    return added, report


@dataclass
class Unsubscribed:
    enterprise_id: str
    deactivated: list[str] = field(default_factory=list)
    queued_cancelled: int = 0
    #: remove only: the enterprise row was deleted (False: kept, history refers to it)
    deleted: bool = False
    history: int = 0


def _enterprise(session: Session, enterprise_id: str) -> Enterprise:
    row = session.get(Enterprise, enterprise_id)
    if row is None:
        known = sorted(session.scalars(select(Enterprise.id)))
        raise InputError(
            [
                Problem(
                    f"unknown enterprise {enterprise_id!r}"
                    + (did_you_mean(enterprise_id, known) if known else "; none imported yet"),
                    field="ENTERPRISE",
                )
            ]
        )
    return row


def _subscriptions(
    session: Session, enterprise_id: str, subscription: str | None
) -> list[Subscription]:
    """An enterprise's subscriptions (or the one named), or an error naming what is missing."""
    _enterprise(session, enterprise_id)
    subs = list(
        session.scalars(
            select(Subscription)
            .where(Subscription.enterprise_id == enterprise_id)
            .order_by(Subscription.id)
        )
    )
    if subscription is None:
        return subs
    names = [s.name for s in subs]
    if subscription not in names:
        raise InputError(
            [
                Problem(
                    f"enterprise {enterprise_id!r} has no subscription {subscription!r}"
                    + (did_you_mean(subscription, names) or f" (it has: {', '.join(names)})"),
                    field="--subscription",
                )
            ]
        )
    return [s for s in subs if s.name == subscription]


def unsubscribe(
    session: Session, enterprise_id: str, now: dt.datetime, subscription: str | None = None
) -> Unsubscribed:
    """Deactivate one or every subscription of an enterprise and cancel its queued mail."""
    subs = _subscriptions(session, enterprise_id, subscription)
    report = Unsubscribed(enterprise_id)
    for sub in subs:
        if sub.active:
            sub.active, sub.updated_at = False, now
            report.deactivated.append(sub.name)
    session.flush()
    report.queued_cancelled = cancel_unwanted(session)
    return report


def watches(scope: dict[str, Any] | None) -> bool:
    """True when a scope names anything to watch (a blank console subscription does not)."""
    return any((scope or {}).get(key) for key in SCOPE_KEYS)


@dataclass
class Resubscribed:
    enterprise_id: str
    reactivated: list[str] = field(default_factory=list)
    #: inactive subscriptions left off because their scope watches nothing yet
    blank: list[str] = field(default_factory=list)


def resubscribe(
    session: Session, enterprise_id: str, now: dt.datetime, subscription: str | None = None
) -> Resubscribed:
    """Reactivate what :func:`unsubscribe` deactivated (all, or one subscription).

    A subscription whose scope watches nothing (created blank in the console) stays off: it
    goes live with its first scope. Mail cancelled at deactivation is not revived; alerts
    raised from now on are delivered again.
    """
    subs = _subscriptions(session, enterprise_id, subscription)
    report = Resubscribed(enterprise_id)
    for sub in subs:
        if sub.active:
            continue
        if not watches(sub.scope):
            report.blank.append(sub.name)
            continue
        sub.active, sub.updated_at = True, now
        report.reactivated.append(sub.name)
    session.flush()
    return report


def remove_enterprise(session: Session, enterprise_id: str, now: dt.datetime) -> Unsubscribed:
    """Remove an enterprise: no subscription, no recipient, no queued mail.

    The row itself is deleted when nothing refers to it; alerts and sent mail keep it as
    history otherwise (it stays, with every subscription inactive and no recipients).
    """
    from sqlalchemy import delete, func

    from warning.store.models import Alert, OutboxMessage, Silence

    ent = _enterprise(session, enterprise_id)
    report = unsubscribe(session, enterprise_id, now)
    ent.recipients, ent.updated_at = [], now
    session.flush()
    report.queued_cancelled += cancel_unwanted(session)
    history = sum(
        int(
            session.scalar(select(func.count()).select_from(m).where(m.enterprise_id == ent.id))
            or 0
        )
        for m in (Alert, OutboxMessage)
    )
    report.history = history
    if not history:
        session.execute(delete(Silence).where(Silence.enterprise_id == ent.id))
        session.execute(delete(Subscription).where(Subscription.enterprise_id == ent.id))
        session.delete(ent)
        report.deleted = True
    return report

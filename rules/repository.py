"""Rules and subscriptions in the database: immutable rule versions, status changes, imports."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from rules.engine import CompiledRule, CompiledSubscription
from rules.loader import LoadedRule
from rules.spec import RuleSpec, Scope, SubscriptionFile, SubscriptionSpec
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
        out.append(CompiledRule.build(RuleSpec.model_validate(data), pk=row.id))
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
    return report

"""The match stage: sync rule files, match what is new since the watermark, store alerts.

Each batch of documents is matched and its alerts and outbox rows are written in one
transaction; a unique ``dedupe_key`` makes re-runs harmless (the same document never alerts
the same enterprise twice for the same rule). Test-status rules record alerts with status
``test`` and never queue mail.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from rules.aggregate import AggregateMatch, evaluate_aggregates, lookback_days
from rules.engine import CompiledRule, CompiledSubscription, Match, Matcher
from rules.loader import load_rules, packaged_library
from rules.repository import compiled_rules, compiled_subscriptions, sync_rules
from rules.similarity import SimilarityScreen, profiles_for
from rules.storedocs import load_match_docs, own_patent_texts
from warning.config import Settings
from warning.delivery.outbox import enqueue_alert
from warning.logging import get_logger
from warning.pipeline import StageContext, StageResult
from warning.store.models import Alert, AppState, Document, Enterprise, LegalEvent, Subscription
from warning.store.upsert import insert_ignore_returning_id

log = get_logger(__name__)

WATERMARK_KEY = "rules.match_watermark"
AGGREGATE_KEY = "rules.aggregate_last_day"
BATCH = 500
#: rows committed late (a long crawl transaction holding lower ids) are still seen: each run
#: looks again at what changed this long before the watermark; dedupe keys make that harmless
RECHECK_WINDOW = dt.timedelta(hours=1)
#: stored documents used as screening background (besides the packaged titles)
BACKGROUND_SAMPLE = 2000

AnyMatch = Match | AggregateMatch


def rules_dir(settings: Settings) -> Path:
    return settings.rules_dir or packaged_library()


def run_match_stage(ctx: StageContext) -> StageResult:
    settings, store, now = ctx.settings, ctx.store, ctx.now
    loaded, problems = load_rules([rules_dir(settings)])
    with store.session() as session:
        report = sync_rules(session, loaded, now)
    problems += report.problems
    for problem in problems:
        log.error("rules.problem", problem=str(problem))

    with store.session() as session:
        rules = compiled_rules(session)
        subs = compiled_subscriptions(session)
        matcher = build_matcher(session, rules, subs, settings)
        state = session.get(AppState, WATERMARK_KEY)
        mark: dict[str, Any] = (
            dict(state.value)
            if state
            else {"document_id": 0, "legal_event_id": 0, "updated_at": None}
        )
        top_doc = session.execute(select(func.max(Document.id))).scalar() or 0
        top_event = session.execute(select(func.max(LegalEvent.id))).scalar() or 0
        top_updated = session.execute(select(func.max(Document.updated_at))).scalar()
        new_docs = set(
            session.execute(
                select(Document.id).where(
                    Document.id > mark["document_id"],
                    Document.id <= top_doc,
                    Document.is_stub.is_(False),
                )
            ).scalars()
        )
        since: dt.datetime | None = None
        rechecked: set[int] = set()
        if mark.get("updated_at"):
            since = dt.datetime.fromisoformat(mark["updated_at"])
            for doc_id, updated in session.execute(
                select(Document.id, Document.updated_at).where(
                    Document.updated_at > since - RECHECK_WINDOW,
                    Document.id <= top_doc,
                    Document.is_stub.is_(False),
                )
            ):
                (new_docs if updated > since else rechecked).add(doc_id)
            if top_updated is None or top_updated < since:
                top_updated = since
        late_events = LegalEvent.created_at > since - RECHECK_WINDOW if since is not None else False
        event_rows = session.execute(
            select(LegalEvent.id, LegalEvent.document_id).where(
                (LegalEvent.id > mark["legal_event_id"]) | late_events, LegalEvent.id <= top_event
            )
        ).all()
    new_events = {row.id for row in event_rows}
    fresh = new_docs | {r.document_id for r in event_rows if r.id > mark["legal_event_id"]}
    doc_ids = sorted(fresh | rechecked | {row.document_id for row in event_rows})
    rechecked_count = len(doc_ids) - len(fresh)

    counts: dict[str, int | float] = {
        "rules": len(matcher.rules),
        "subscriptions": len(subs),
        "documents": 0,
        "events": sum(1 for r in event_rows if r.id > mark["legal_event_id"]),
        "rechecked": rechecked_count,
        "alerts": 0,
        "test_alerts": 0,
        "queued": 0,
        "rule_versions_new": len(report.inserted),
        "rule_problems": len(problems),
    }
    for start in range(0, len(doc_ids), BATCH):
        chunk = doc_ids[start : start + BATCH]
        with store.session() as session:
            docs = load_match_docs(
                session,
                chunk,
                event_ids=new_events,
                new_publications=new_docs | rechecked,
            )
            matches = matcher.match_batch(docs)
            _add(counts, store_matches(session, matches, now, settings))
    counts["documents"] = len(fresh)

    _add(counts, _run_aggregates(ctx, rules, subs))
    with store.session() as session:
        value = {
            "document_id": max(top_doc, mark["document_id"]),
            "legal_event_id": max(top_event, mark["legal_event_id"]),
            "updated_at": top_updated.isoformat() if top_updated else None,
        }
        state = session.get(AppState, WATERMARK_KEY)
        if state is None:
            session.add(AppState(key=WATERMARK_KEY, value=value, updated_at=now))
        else:
            state.value, state.updated_at = value, now
    note = "; ".join([str(p) for p in problems] + report.notes)
    return StageResult(status="failed" if problems else "ok", counts=counts, note=note)


def _add(counts: dict[str, int | float], more: dict[str, int]) -> None:
    for key, value in more.items():
        counts[key] = counts.get(key, 0) + value


def build_matcher(
    session: Session,
    rules: Sequence[CompiledRule],
    subs: Sequence[CompiledSubscription],
    settings: Settings,
) -> Matcher:
    screen = None
    if any(r.spec.when.similar_to_own for r in rules):
        own = own_patent_texts(session, [n for s in subs for n in s.spec.scope.own_patents])
        profiles = profiles_for(subs, own)
        if profiles:
            background = session.execute(
                select(Document.title, Document.abstract, Document.ipc)
                .where(Document.is_stub.is_(False))
                .order_by(Document.id.desc())
                .limit(BACKGROUND_SAMPLE)
            ).all()
            stored = [(" ".join(filter(None, (r[0], r[1]))), list(r[2] or [])) for r in background]
            screen = SimilarityScreen(profiles, stored, weekly_volume=weekly_volume(session))
            for row in screen.report():
                log.info("screening.calibration", **row)
    known = set(session.execute(select(Enterprise.id)).scalars())
    return Matcher(
        rules,
        subs,
        screen=screen,
        local_regions=settings.local_regions,
        known_enterprises=known.__contains__,
    )


def weekly_volume(session: Session) -> int:
    """Documents published in the store's latest four weeks, per week (screening calibration)."""
    latest = session.execute(select(func.max(Document.publication_date))).scalar()
    if latest is None:
        return 0
    count = session.execute(
        select(func.count(Document.id)).where(
            Document.publication_date > latest - dt.timedelta(days=28)
        )
    ).scalar()
    return int(count or 0) // 4


def _run_aggregates(
    ctx: StageContext, rules: list[CompiledRule], subs: list[CompiledSubscription]
) -> dict[str, int]:
    """Trend rules run once per local day (their alerts are deduplicated per ISO week anyway)."""
    aggregates = [r for r in rules if r.spec.kind == "aggregate"]
    if not aggregates:
        return {}
    today = ctx.now.astimezone(ctx.settings.tz).date()
    with ctx.store.session() as session:
        state = session.get(AppState, AGGREGATE_KEY)
        if state is not None and state.value.get("day") == today.isoformat() and not ctx.force:
            return {}
        start = today - dt.timedelta(days=lookback_days(aggregates))
        ids = set(
            session.execute(select(Document.id).where(Document.publication_date >= start)).scalars()
        )
        ids |= set(
            session.execute(
                select(LegalEvent.document_id).where(LegalEvent.event_date >= start)
            ).scalars()
        )
        docs = load_match_docs(session, ids, events_between=(start, today))
        fired = evaluate_aggregates(
            aggregates, docs, today, subs, regions=tuple(ctx.settings.local_regions)
        )
        counts = store_matches(session, fired, ctx.now, ctx.settings)
        value = {"day": today.isoformat()}
        if state is None:
            session.add(AppState(key=AGGREGATE_KEY, value=value, updated_at=ctx.now))
        else:
            state.value, state.updated_at = value, ctx.now
    return {"aggregate_" + k: v for k, v in counts.items() if v}


def _due(
    session: Session, match: AnyMatch, now: dt.datetime, settings: Settings
) -> tuple[dt.datetime, str]:
    row = (
        session.get(Subscription, match.subscription.db_id)
        if match.subscription and match.subscription.db_id
        else None
    )
    try:
        from warning.delivery.schedule import due_time
    except ImportError:
        frequency = row.frequency if row is not None else "immediate"
        return now + dt.timedelta(
            minutes=settings.group_window_minutes
        ), f"{match.enterprise_id}:{frequency}"
    return due_time(row, now, settings)


def _sector(match: AnyMatch) -> str | None:
    if isinstance(match, AggregateMatch):
        return match.group.get("sector")
    matched = match.explanation.get("matched_conditions", {}).get("sectors")
    if matched:
        return str(next(iter(matched)))
    sectors = match.doc.sectors
    return max(sectors, key=lambda s: sectors[s]) if sectors else None


def store_matches(
    session: Session, matches: Sequence[AnyMatch], now: dt.datetime, settings: Settings
) -> dict[str, int]:
    """Insert alerts (unique dedupe key) and, for new enterprise alerts, their outbox rows.

    An alert is inserted as ``queued`` when it will get outbox rows (an active rule and an
    enterprise with recipients), ``test`` for test rules, else ``new``; a duplicate changes
    nothing and queues nothing.
    """
    counts = {"alerts": 0, "test_alerts": 0, "queued": 0, "duplicates": 0}
    recipients_of: dict[str, list[str]] = {}
    for match in matches:
        rule = match.rule
        if rule.pk is None:
            raise ValueError(f"rule {rule.id} has no stored version; sync the rules first")
        test = rule.spec.status == "test"
        enterprise_id = match.enterprise_id
        recipients: list[str] = []
        if enterprise_id is not None and not test:
            if enterprise_id not in recipients_of:
                enterprise = session.get(Enterprise, enterprise_id)
                recipients_of[enterprise_id] = list(enterprise.recipients) if enterprise else []
            recipients = recipients_of[enterprise_id]
        values: dict[str, Any] = {
            "dedupe_key": match.dedupe_key,
            "rule_pk": rule.pk,
            "rule_id": rule.id,
            "rule_version": rule.spec.version,
            "enterprise_id": enterprise_id,
            "subscription_id": match.subscription.db_id if match.subscription else None,
            "document_id": match.doc.id if match.doc is not None else None,
            "legal_event_id": match.event.id if match.event is not None else None,
            "severity": match.severity if isinstance(match, Match) else rule.spec.severity,
            "sector": _sector(match),
            "status": "test" if test else ("queued" if recipients else "new"),
            "explanation": match.explanation,
            "as_of": match.as_of,
            "created_at": now,
        }
        alert_id = insert_ignore_returning_id(session, Alert.__table__, values, ["dedupe_key"])
        if alert_id is None:
            counts["duplicates"] += 1
            continue
        counts["test_alerts" if test else "alerts"] += 1
        if recipients:
            # enqueue_alert reads only the id and enterprise of the alert just inserted
            alert = Alert(id=alert_id, enterprise_id=enterprise_id)
            due_at, group_key = _due(session, match, now, settings)
            counts["queued"] += enqueue_alert(
                session, alert, recipients, due_at=due_at, group_key=group_key
            )
    return counts


__all__ = ["build_matcher", "run_match_stage", "store_matches"]

"""The match stage: sync rule files, match what has not been matched yet, store alerts.

Progress is tracked by identity, not by time: a document is matched once the active
classifier version has tagged it and recorded in ``match_marks`` with the content hash it was
matched at (a changed document is matched again); a legal event gets ``matched_at``. A row
committed late, tags that arrive late, a bulk import classified over many runs: each is
matched exactly when it is ready, and a run with nothing new touches nothing. Each batch of
documents is matched and its alerts, outbox rows and marks are written in one transaction; a
unique ``dedupe_key`` makes re-runs harmless. Test-status rules record alerts with status
``test`` and never queue mail.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import exists, func, or_, select, update
from sqlalchemy.orm import Session

from models.registry import active_version
from rules.aggregate import AggregateMatch, evaluate_aggregates, lookback_days
from rules.deadlines import DeadlineMatch, deadlines_between
from rules.engine import CompiledRule, CompiledSubscription, Match, Matcher
from rules.loader import load_rules, packaged_library
from rules.repository import compiled_rules, compiled_subscriptions, sync_rules
from rules.similarity import SimilarityScreen, profiles_for
from rules.storedocs import load_match_docs, own_patent_texts
from warning.config import Settings
from warning.delivery.outbox import enqueue_alert
from warning.logging import get_logger
from warning.pipeline import StageContext, StageResult
from warning.store.models import (
    Alert,
    AppState,
    Document,
    DocumentTag,
    Enterprise,
    LegalEvent,
    MatchMark,
    Subscription,
)
from warning.store.upsert import dialect_insert, insert_ignore_returning_id

log = get_logger(__name__)

AGGREGATE_KEY = "rules.aggregate_last_day"
DEADLINE_KEY = "rules.deadline_last_day"
BATCH = 500
#: stored documents used as screening background (besides the packaged titles)
BACKGROUND_SAMPLE = 2000

AnyMatch = Match | AggregateMatch | DeadlineMatch


def rules_dir(settings: Settings) -> Path:
    return settings.rules_dir or packaged_library()


@dataclass
class Pending:
    """What the match stage still has to do, found by identity (never by time windows)."""

    #: documents to match as publications: tagged by the active version, never matched
    #: (``fresh``) or matched at another content hash (``changed``)
    fresh: set[int] = field(default_factory=set)
    changed: set[int] = field(default_factory=set)
    #: unmatched legal events ready to match (their document is tagged, or a stub), by document
    events: dict[int, set[int]] = field(default_factory=dict)
    #: documents (and events) waiting for the active classifier version's tags
    waiting_documents: int = 0
    waiting_events: int = 0

    @property
    def publications(self) -> set[int]:
        return self.fresh | self.changed

    @property
    def documents(self) -> list[int]:
        return sorted(self.publications | set(self.events))


def find_pending(session: Session, version: str) -> Pending:
    """Documents and legal events to match now, and how many wait for tags of ``version``.

    A document waits until the active classifier version has tagged it, so that a bulk import
    classified over many runs ends with exactly the alerts of a slow trickle (an untagged
    document matched on its IPC alone would alert differently). Stubs are never tagged: their
    legal events match at once.
    """
    tagged = exists().where(
        DocumentTag.document_id == Document.id, DocumentTag.model_version == version
    )
    pending = Pending()
    rows = session.execute(
        select(Document.id, MatchMark.document_id.is_not(None), tagged)
        .outerjoin(MatchMark, MatchMark.document_id == Document.id)
        .where(
            Document.is_stub.is_(False),
            or_(MatchMark.document_id.is_(None), MatchMark.content_hash != Document.content_hash),
        )
    ).all()
    for doc_id, had_mark, is_tagged in rows:
        if not is_tagged:
            pending.waiting_documents += 1
        else:
            (pending.changed if had_mark else pending.fresh).add(doc_id)
    for event_id, doc_id, stub, is_tagged in session.execute(
        select(LegalEvent.id, LegalEvent.document_id, Document.is_stub, tagged)
        .join(Document, Document.id == LegalEvent.document_id)
        .where(LegalEvent.matched_at.is_(None))
    ):
        if stub or is_tagged:
            pending.events.setdefault(doc_id, set()).add(event_id)
        else:
            pending.waiting_events += 1
    return pending


def run_match_stage(ctx: StageContext) -> StageResult:
    settings, store, now = ctx.settings, ctx.store, ctx.now
    loaded, problems = load_rules([rules_dir(settings)])
    with store.session() as session:
        report = sync_rules(session, loaded, now)
    problems += report.problems
    for problem in problems:
        log.error("rules.problem", problem=str(problem))

    with store.read_session() as session:
        rules = compiled_rules(session)
        subs = compiled_subscriptions(session)
        matcher = build_matcher(session, rules, subs, settings)
        version = active_version(session)
        pending = find_pending(session, version)
    event_ids = {e for ids in pending.events.values() for e in ids}
    doc_ids = pending.documents

    counts: dict[str, int | float] = {
        "rules": len(matcher.rules),
        "subscriptions": len(subs),
        # documents matched for something new: a fresh publication or a new legal event
        "documents": len(set(doc_ids) - pending.changed),
        "events": len(event_ids),
        "rechecked": len(pending.changed),
        "waiting_for_tags": pending.waiting_documents,
        "alerts": 0,
        "test_alerts": 0,
        "queued": 0,
        "rule_versions_new": len(report.inserted),
        "rule_problems": len(problems),
    }
    publications = pending.publications
    for start in range(0, len(doc_ids), BATCH):
        chunk = doc_ids[start : start + BATCH]
        with store.session() as session:
            docs = load_match_docs(
                session, chunk, event_ids=event_ids, new_publications=publications
            )
            matches = matcher.match_batch(docs)
            _add(counts, store_matches(session, matches, now, settings))
            _mark_matched(session, [d for d in chunk if d in publications], version, now)
            chunk_events = [e for d in chunk for e in pending.events.get(d, ())]
            if chunk_events:
                session.execute(
                    update(LegalEvent).where(LegalEvent.id.in_(chunk_events)).values(matched_at=now)
                )

    _add(counts, _run_aggregates(ctx, rules, subs))
    _add(counts, _run_deadlines(ctx, rules, subs))
    notes = [str(p) for p in problems] + report.notes
    if pending.waiting_documents or pending.waiting_events:
        notes.append(
            f"{pending.waiting_documents} document(s) and {pending.waiting_events} legal "
            f"event(s) wait for tags of model {version} (the classify stage)"
        )
    return StageResult(status="failed" if problems else "ok", counts=counts, note="; ".join(notes))


def _mark_matched(session: Session, doc_ids: list[int], version: str, now: dt.datetime) -> None:
    """Record the content hash each document was matched at (read in this transaction)."""
    if not doc_ids:
        return
    rows = [
        {
            "document_id": doc_id,
            "content_hash": content_hash,
            "model_version": version,
            "matched_at": now,
        }
        for doc_id, content_hash in session.execute(
            select(Document.id, Document.content_hash).where(Document.id.in_(doc_ids))
        )
    ]
    stmt = dialect_insert(session, MatchMark.__table__)
    stmt = stmt.on_conflict_do_update(
        index_elements=["document_id"],
        set_={
            "content_hash": stmt.excluded.content_hash,
            "model_version": stmt.excluded.model_version,
            "matched_at": stmt.excluded.matched_at,
        },
    )
    session.execute(stmt, rows)


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


def _run_deadlines(
    ctx: StageContext, rules: list[CompiledRule], subs: list[CompiledSubscription]
) -> dict[str, int]:
    """Deadline rules run once per local day; each deadline is alerted once (its dedupe key)."""
    from warning.forecast.data import load_documents

    wanted = [r for r in rules if r.spec.kind == "deadline"]
    if not wanted or not subs:
        return {}
    today = ctx.now.astimezone(ctx.settings.tz).date()
    with ctx.store.session() as session:
        state = session.get(AppState, DEADLINE_KEY)
        if state is not None and state.value.get("day") == today.isoformat() and not ctx.force:
            return {}
        docs = load_documents(session, until=today, with_events=True)
        fired = deadlines_between(wanted, docs, today, today, subs)
        counts = store_matches(session, fired, ctx.now, ctx.settings)
        value = {"day": today.isoformat()}
        if state is None:
            session.add(AppState(key=DEADLINE_KEY, value=value, updated_at=ctx.now))
        else:
            state.value, state.updated_at = value, ctx.now
    return {"deadline_" + k: v for k, v in counts.items() if v}


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
    if isinstance(match, DeadlineMatch):
        return match.doc.sectors[0] if match.doc.sectors else None
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

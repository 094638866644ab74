"""Back-testing rules on files or stored documents, through the live matching code path.

`ipwarn rules test --docs` never touches the store: documents come from `ipwarn parse` lines
(tags from `ipwarn classify` when present, else computed), subscriptions from a YAML file.
`--since` matches stored documents and diffs the file versions against the active ones.
"""

from __future__ import annotations

import datetime as dt
import json
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from rules.aggregate import AggregateMatch, evaluate_aggregates, lookback_days
from rules.deadlines import DeadlineMatch, deadlines_between
from rules.docview import MatchDoc, doc_from_json, has_tags
from rules.engine import CompiledRule, CompiledSubscription, Match, Matcher
from rules.similarity import SimilarityScreen, profiles_for
from rules.storedocs import ipc_tags
from warning.errors import InputError, Problem

AnyMatch = Match | AggregateMatch | DeadlineMatch


def read_docs(
    path: Path, warn: Callable[[str], None] = lambda m: print(m, file=sys.stderr)
) -> list[MatchDoc]:
    """`ipwarn parse` JSON lines; untagged documents are classified (or tagged from IPC)."""
    problems: list[Problem] = []
    raw: list[dict[str, Any]] = []
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError([Problem(f"cannot read documents: {exc}", file=str(path))]) from exc
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            data = json.loads(line)
            if not isinstance(data, dict):
                raise ValueError("expected a JSON object")
            doc_from_json(data)
        except (ValueError, ValidationError) as exc:
            message = (
                str(exc).splitlines()[0]
                if not isinstance(exc, ValidationError)
                else "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
            )
            problems.append(Problem(message, file=str(path), line=number))
            continue
        raw.append(data)
    if problems:
        raise InputError(problems, hint="Documents must be `ipwarn parse` JSON lines.")
    untagged = [d for d in raw if not has_tags(d)]
    if untagged:
        _classify(untagged, warn)
    docs = []
    for data in raw:
        doc = doc_from_json(data)
        if not has_tags(data):
            doc.sectors, doc.subfields = ipc_tags(doc.ipc)
        docs.append(doc)
    return docs


def _classify(untagged: list[dict[str, Any]], warn: Callable[[str], None]) -> None:
    """Add classifier tags in place; fall back to IPC-only tags with a clear message."""
    try:
        from models.api import classify_documents
    except ImportError as exc:
        warn(
            f"note: classifier not available ({exc}); {len(untagged)} untagged documents get "
            "sectors from their IPC symbols only"
        )
        return
    try:
        results = classify_documents(untagged)
    except Exception as exc:  # a missing model artifact must not stop a back-test
        warn(f"note: classifier failed ({type(exc).__name__}: {exc}); sectors from IPC only")
        return
    by_number = {str(r.get("number", "")).upper(): r for r in results}
    for data in untagged:
        result = by_number.get("".join(str(data.get("number", "")).split()).upper())
        if result is not None:
            data["sectors"] = {
                s: float(result.get("scores", {}).get(s, 1.0))
                for s in result.get("sectors", [])
                if s != "other"
            }
            data["subfields"] = result.get("subfields", [])


def screen_for(
    rules: Sequence[CompiledRule],
    subs: Sequence[CompiledSubscription],
    docs: Sequence[MatchDoc],
    own_texts: dict[str, tuple[str, list[str]]] | None = None,
) -> SimilarityScreen | None:
    """The screen live matching would build, with own patents looked up among ``docs``."""
    if not subs or not any(r.spec.when.similar_to_own for r in rules):
        return None
    texts = dict(own_texts or {})
    bases = {d.number_base: (" ".join((d.title, d.abstract, d.claims)), d.ipc) for d in docs}
    from warning.records import split_number

    for sub in subs:
        for number in sub.spec.scope.own_patents:
            texts.setdefault(number, bases.get(split_number(number)[1], ("", [])))
    profiles = profiles_for(subs, texts)
    return SimilarityScreen(profiles) if profiles else None


def run_backtest(
    rules: Sequence[CompiledRule],
    docs: Sequence[MatchDoc],
    subs: Sequence[CompiledSubscription],
    now: dt.datetime,
    *,
    regions: Sequence[str] = ("鞍山", "辽宁"),
    screen: SimilarityScreen | None = None,
) -> list[AnyMatch]:
    """Would-be alerts, deduplicated exactly as the store would."""
    matcher = Matcher(rules, subs, screen=screen, local_regions=regions)
    matches: list[AnyMatch] = list(matcher.match_batch(docs))
    aggregates = [r for r in rules if r.spec.kind == "aggregate"]
    if aggregates:
        today = now.date()
        start = today - dt.timedelta(days=lookback_days(aggregates))
        recent = [
            d
            for d in docs
            if (d.publication_date and d.publication_date >= start)
            or any(e.date >= start for e in d.events)
        ]
        matches.extend(evaluate_aggregates(aggregates, recent, today, subs, regions=tuple(regions)))
    seen: set[str] = set()
    unique = []
    for match in matches:
        if match.dedupe_key not in seen:
            seen.add(match.dedupe_key)
            unique.append(match)
    return unique


def as_row(match: AnyMatch) -> dict[str, Any]:
    number = match.doc.number if match.doc is not None else None
    return {
        "rule_id": match.rule.id,
        "rule_version": match.rule.spec.version,
        "number": number,
        "enterprise": match.enterprise_id,
        "severity": match.severity if isinstance(match, Match) else match.rule.spec.severity,
        "explanation": match.explanation,
    }


def summary(explanation: dict[str, Any]) -> str:
    """One short "why" for terminal output."""
    parts = []
    for key, value in (explanation.get("matched_conditions") or {}).items():
        if isinstance(value, dict):
            value = ",".join(
                f"{k}={v}" if not isinstance(v, float) else k for k, v in value.items()
            )
        elif isinstance(value, list):
            value = ",".join(map(str, value))
        parts.append(f"{key}={value}")
    if "similarity" in explanation:
        sim = explanation["similarity"]
        parts.append(
            f"screening={sim['score']}>={sim['threshold']}(p{sim['percentile']}) "
            f"against={sim['against']} terms={','.join(sim['overlapping_terms'])} "
            f"field={'in' if sim['field_check']['in_field'] else 'outside'}"
        )
    if "scope" in explanation:
        parts.append("scope:" + "/".join(sorted(explanation["scope"])))
    if "legal_event" in explanation:
        parts.append(
            f"event={explanation['legal_event']['code']}@{explanation['legal_event']['date']}"
        )
    return "; ".join(parts)


def format_line(match: AnyMatch) -> str:
    row = as_row(match)
    number = row["number"] or "(aggregate)"
    return (
        f"{row['rule_id']}\tv{row['rule_version']}\t{number}\t{row['enterprise'] or '-'}\t"
        f"{row['severity']}\t{summary(row['explanation'])}"
    )


@dataclass
class RuleDiff:
    rule_id: str
    baseline_version: int | None
    candidate_version: int
    gained: list[tuple[str | None, str]] = field(default_factory=list)
    lost: list[tuple[str | None, str]] = field(default_factory=list)


def diff(
    candidate: Sequence[AnyMatch],
    baseline: Sequence[AnyMatch],
    versions: dict[str, int | None],
    candidate_versions: dict[str, int],
) -> list[RuleDiff]:
    """Alerts gained and lost per rule id, comparing (enterprise, subject) pairs."""
    out = []
    for rule_id in sorted(candidate_versions):
        new = {(m.enterprise_id, m.subject) for m in candidate if m.rule.id == rule_id}
        old = {(m.enterprise_id, m.subject) for m in baseline if m.rule.id == rule_id}
        out.append(
            RuleDiff(
                rule_id,
                versions.get(rule_id),
                candidate_versions[rule_id],
                gained=sorted(new - old, key=str),
                lost=sorted(old - new, key=str),
            )
        )
    return out


@dataclass
class StoredBacktest:
    """A back-test of candidate rule versions over stored documents, against the active ones."""

    first: dt.date
    last: dt.date
    documents: int
    candidate: list[AnyMatch]
    baseline: list[AnyMatch]
    diffs: list[RuleDiff]
    #: stored grants with a filing date the deadline rules judged (0: no deadline rule)
    grants: int = 0


def backtest_stored(
    store: Any,
    settings: Any,
    candidate: list[CompiledRule],
    first: dt.date,
    last: dt.date,
    now: dt.datetime,
    subs: list[CompiledSubscription] | None = None,
) -> StoredBacktest:
    """Match documents published (or with legal events) in ``first..last`` with ``candidate``
    and with the active versions of the same rules; `ipwarn rules test --since` and the
    console's rule editor both call this. ``subs`` None: the stored subscriptions. Deadline
    rules (``kind: deadline``) raise what the daily match would raise on each day of the
    period (:func:`rules.deadlines.deadlines_between`, the live stage's own function)."""
    from sqlalchemy import select

    from rules.repository import active_rule_versions, compiled_subscriptions
    from rules.stage import build_matcher
    from warning.errors import InputError, Problem

    if first > last:
        raise InputError(
            [
                Problem(
                    f"--since {first} is after --until {last}: that range holds no day",
                    field="--since",
                )
            ]
        )
    from rules.storedocs import load_match_docs
    from warning.store.models import Document, LegalEvent

    with store.read_session() as session:
        if subs is None:
            subs = compiled_subscriptions(session)
        ids = set(
            session.execute(
                select(Document.id).where(
                    Document.publication_date >= first, Document.publication_date <= last
                )
            ).scalars()
        )
        new_pubs = set(ids)
        ids |= set(
            session.execute(
                select(LegalEvent.document_id).where(
                    LegalEvent.event_date >= first, LegalEvent.event_date <= last
                )
            ).scalars()
        )
        docs = load_match_docs(
            session, ids, new_publications=new_pubs, events_between=(first, last)
        )
        active = active_rule_versions(session)
        baseline = [active[r.id] for r in candidate if r.id in active]
        screen = build_matcher(session, candidate + baseline, subs, settings).screen
        rights: list[Any] = []
        if subs and any(r.spec.kind == "deadline" for r in candidate + baseline):
            from warning.forecast.data import load_documents

            # what the daily match reads: the whole store up to the day, with its events
            rights = load_documents(session, until=last, with_events=True)
    regions = list(getattr(settings, "local_regions", ["鞍山", "辽宁"]))
    new: list[AnyMatch] = list(
        run_backtest(candidate, docs, subs, now, regions=regions, screen=screen)
    )
    old: list[AnyMatch] = list(
        run_backtest(baseline, docs, subs, now, regions=regions, screen=screen)
    )
    # deadline rules run once per local day in the live match: here on every day of the period
    new += deadlines_between(candidate, rights, first, last, subs)
    old += deadlines_between(baseline, rights, first, last, subs)
    versions = {r.id: (active[r.id].spec.version if r.id in active else None) for r in candidate}
    diffs = diff(new, old, versions, {r.id: r.spec.version for r in candidate})
    grants = sum(d.is_grant and d.application_date is not None for d in rights)
    return StoredBacktest(first, last, len(docs), list(new), list(old), diffs, grants)

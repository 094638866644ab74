"""Matching documents against rules and subscriptions, fast and explained.

Each rule is indexed under its most selective condition (legal-event code, applicant name,
IPC prefix, the rarest necessary keyword, sub-field or sector); each subscription under every
criterion of its scope (a scope is an OR). Keywords and applicant names are found with one
Aho-Corasick pass over the document, IPC prefixes by dictionary look-up of each symbol's
prefixes. Candidates are then verified exactly with the same code the naive loop uses
(:meth:`Matcher.match_naive`), so the index can only change speed, never results.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from functools import cache
from typing import Any

import ahocorasick

from rules.docview import EventView, MatchDoc
from rules.query import Node, evaluate, fold_text, necessary_terms, parse_query, terms_of
from rules.similarity import SimilarityHit, SimilarityScreen, background_titles
from rules.spec import Conditions, RuleSpec, SubscriptionSpec
from warning.applicants import fold_width, normalize_applicant

PER_SUBSCRIBER = ("competitor", "own_patent", "similar_to_own")


def applicant_key(name: str) -> str:
    return normalize_applicant(name) or fold_width(name).lower()


@cache
def _background_blob() -> str:
    return fold_text("\n".join(background_titles()))


@cache
def term_cost(term: str) -> float:
    """Estimated share of documents containing ``term`` (from the packaged background titles)."""
    blob = _background_blob()
    hits = blob.count(term)
    return (hits + 0.5) / (len(background_titles()) + 1)


def _ipc_cost(prefix: str) -> float:
    return {1: 0.12, 3: 0.03, 4: 0.01}.get(len(prefix), 0.002)


# --- compiled rules and subscriptions ---------------------------------------------------------


@dataclass(frozen=True)
class DocHits:
    """What one Aho-Corasick pass and one IPC expansion found in a document (indexed path)."""

    #: every rule / subscription keyword term that occurs in the text
    rule_terms: frozenset[str]
    sub_terms: frozenset[str]
    #: every rule applicant key / subscription competitor key that occurs in the applicants
    applicants: frozenset[str]
    competitors: frozenset[str]
    #: every prefix of every IPC symbol of the document
    ipc_prefixes: frozenset[str]


@dataclass
class CompiledRule:
    spec: RuleSpec
    #: primary key of the stored version (None in back-tests from files)
    pk: int | None = None
    query: Node | None = None
    applicant_keys: tuple[str, ...] = ()
    #: compares documents with each subscriber's own data (competitors, patents, products)
    per_subscriber: bool = False

    @classmethod
    def build(cls, spec: RuleSpec, pk: int | None = None) -> CompiledRule:
        when = spec.when
        query = parse_query(when.keywords) if when.keywords is not None else None
        keys = tuple(applicant_key(a) for a in when.applicants or ())
        return cls(
            spec=spec, pk=pk, query=query, applicant_keys=keys, per_subscriber=spec.per_subscriber
        )

    @property
    def id(self) -> str:
        return self.spec.id

    @property
    def event_rule(self) -> bool:
        return self.spec.when.legal_events is not None

    def check(
        self, doc: MatchDoc, regions: tuple[str, ...], pre: DocHits | None = None
    ) -> tuple[dict[str, Any], list[EventView]] | None:
        """Document-level conditions: what matched and which events, or None.

        With ``pre`` (indexed path) keyword and applicant tests are set look-ups instead of
        substring searches; the result is the same.
        """
        when: Conditions = self.spec.when
        matched: dict[str, Any] = {}
        events: list[EventView] = []
        if when.legal_events is not None:
            events = [e for e in doc.events if e.code in when.legal_events]
            if not events:
                return None
            matched["legal_events"] = sorted({e.code for e in events})
        elif not doc.is_new_publication:
            return None
        if when.kinds is not None:
            if doc.kind_letter not in when.kinds and doc.kind not in when.kinds:
                return None
            matched["kinds"] = doc.kind
        if when.offices is not None:
            if doc.office not in when.offices:
                return None
            matched["offices"] = doc.office
        if when.sectors is not None:
            hits = {
                s: round(doc.sectors[s], 3)
                for s in when.sectors
                if doc.sectors.get(s, 0.0) >= when.min_confidence
            }
            if not hits:
                return None
            matched["sectors"] = hits
        if when.subfields is not None:
            hits = {
                s: round(doc.subfields[s], 3)
                for s in when.subfields
                if doc.subfields.get(s, 0.0) >= when.min_confidence
            }
            if not hits:
                return None
            matched["subfields"] = hits
        if when.ipc is not None:
            if pre is not None and not any(p in pre.ipc_prefixes for p in when.ipc):
                return None
            overlap = sorted({sym for sym in doc.ipc for p in when.ipc if sym.startswith(p)})
            if not overlap:
                return None
            matched["ipc"] = overlap
        if self.query is not None:
            found: list[str] = []
            if not evaluate(self.query, pre.rule_terms if pre is not None else doc.text, found):
                return None
            matched["keywords"] = found
        if self.applicant_keys:
            pool = pre.applicants if pre is not None else doc.applicant_text
            names = sorted({k for k in self.applicant_keys if k in pool})
            if not names:
                return None
            matched["applicants"] = names
        if when.applicant_foreign is not None:
            foreign = doc.foreign_applicants()
            if bool(foreign) != when.applicant_foreign:
                return None
            matched["applicant_foreign"] = foreign or True
        if when.applicant_local is not None:
            local = doc.local_applicants(regions)
            if bool(local) != when.applicant_local:
                return None
            matched["applicant_local"] = local or True
        return matched, events


@dataclass
class CompiledSubscription:
    enterprise_id: str
    enterprise_name: str
    recipients: list[str]
    spec: SubscriptionSpec
    #: stored subscriptions.id (None in back-tests from files)
    db_id: int | None = None
    query: Node | None = None
    competitor_keys: tuple[str, ...] = ()
    own_numbers: frozenset[str] = frozenset()
    #: the enterprise's own applicant key: its own filings are never screened or "competitors"
    own_key: str = ""

    @classmethod
    def build(
        cls,
        enterprise_id: str,
        enterprise_name: str,
        recipients: list[str],
        spec: SubscriptionSpec,
        db_id: int | None = None,
    ) -> CompiledSubscription:
        scope = spec.scope
        from warning.records import split_number

        return cls(
            enterprise_id=enterprise_id,
            enterprise_name=enterprise_name,
            recipients=list(recipients),
            spec=spec,
            db_id=db_id,
            query=parse_query(scope.keywords) if scope.keywords else None,
            competitor_keys=tuple(applicant_key(c) for c in scope.competitors),
            own_numbers=frozenset(split_number(n)[1] for n in scope.own_patents),
            own_key=applicant_key(enterprise_name),
        )

    @property
    def key(self) -> str:
        return f"{self.enterprise_id}/{self.spec.name}"

    def competitors_in(self, doc: MatchDoc, hits: DocHits | None = None) -> list[str]:
        pool = hits.competitors if hits is not None else doc.applicant_text
        return sorted({k for k in self.competitor_keys if k in pool})

    def is_own(self, doc: MatchDoc) -> bool:
        """The enterprise's own patent or its own filing."""
        return doc.number_base in self.own_numbers or (
            bool(self.own_key) and any(self.own_key in key for key in doc.applicant_keys)
        )

    def covers(self, doc: MatchDoc, found: DocHits | None = None) -> dict[str, Any] | None:
        """Which scope criteria the document meets, or None when it is out of scope."""
        scope = self.spec.scope
        hits: dict[str, Any] = {}
        if scope.sectors:
            sectors = {
                s: round(doc.sectors[s], 3)
                for s in scope.sectors
                if doc.sectors.get(s, 0.0) >= scope.min_confidence
            }
            if sectors:
                hits["sectors"] = sectors
        if scope.subfields:
            subfields = {
                s: round(doc.subfields[s], 3)
                for s in scope.subfields
                if doc.subfields.get(s, 0.0) >= scope.min_confidence
            }
            if subfields:
                hits["subfields"] = subfields
        if scope.ipc and (found is None or any(p in found.ipc_prefixes for p in scope.ipc)):
            ipc = sorted({sym for sym in doc.ipc for p in scope.ipc if sym.startswith(p)})
            if ipc:
                hits["ipc"] = ipc
        if self.query is not None:
            terms: list[str] = []
            if evaluate(self.query, found.sub_terms if found is not None else doc.text, terms):
                hits["keywords"] = terms
        if self.competitor_keys:
            competitors = self.competitors_in(doc, found)
            if competitors:
                hits["competitors"] = competitors
        if self.own_numbers and doc.number_base in self.own_numbers:
            hits["own_patents"] = [doc.number]
        return hits or None


# --- matches -----------------------------------------------------------------------------------


class SharedBase:
    """The recipient-independent explanation of one rule match, built once and only when an
    alert is actually rendered or stored (most of a batch's work is deciding, not explaining)."""

    __slots__ = ("_value", "doc", "event", "matched", "rule")

    def __init__(
        self, rule: CompiledRule, doc: MatchDoc, event: EventView | None, matched: dict[str, Any]
    ) -> None:
        self.rule, self.doc, self.event, self.matched = rule, doc, event, matched
        self._value: dict[str, Any] | None = None

    def get(self) -> dict[str, Any]:
        if self._value is None:
            self._value = base_explanation(self.rule, self.doc, self.event, self.matched)
        return self._value


def dedupe_key(rule: CompiledRule, enterprise_id: str | None, subject: str) -> str:
    """Same rule (any version), same enterprise, same subject: one alert. Test versions apart."""
    spec = rule.spec
    name = rule.id if spec.status != "test" else f"test:{rule.id}@{spec.version}"
    return f"{name}|{enterprise_id or '-'}|{subject}"[:300]


@dataclass(slots=True)
class Match:
    """One would-be alert: a rule, a subject (document or legal event) and a recipient."""

    rule: CompiledRule
    doc: MatchDoc
    event: EventView | None
    subscription: CompiledSubscription | None
    #: the part of the explanation shared by every recipient of this rule match
    base: SharedBase
    #: the recipient's part: scope criteria met, competitors, similarity
    detail: dict[str, Any] | None = None
    notify_enterprise: str | None = None
    _explanation: dict[str, Any] | None = field(default=None, repr=False, compare=False)

    @property
    def explanation(self) -> dict[str, Any]:
        """Everything "why this alert" needs, as plain JSON (built on first use)."""
        if self._explanation is None:
            self._explanation = with_recipient(self.base.get(), self.subscription, self.detail)
        return self._explanation

    @property
    def enterprise_id(self) -> str | None:
        return self.subscription.enterprise_id if self.subscription else self.notify_enterprise

    @property
    def severity(self) -> str:
        """The rule's severity, or for a screening hit the severity its evidence supports."""
        similarity = (self.detail or {}).get("similarity")
        if similarity and similarity.get("severity"):
            return str(similarity["severity"])
        return self.rule.spec.severity

    @property
    def subject(self) -> str:
        if self.event is not None:
            return f"event:{self.doc.number_key}:{self.event.code}:{self.event.date.isoformat()}"
        return f"doc:{self.doc.number_key}"

    @property
    def dedupe_key(self) -> str:
        return dedupe_key(self.rule, self.enterprise_id, self.subject)

    @property
    def as_of(self) -> dt.date | None:
        return self.event.date if self.event is not None else self.doc.publication_date

    def identity(self) -> tuple[str, str | None, str]:
        """What a back-test diff compares: rule id, enterprise, subject (version-free)."""
        return (self.rule.id, self.enterprise_id, self.subject)


def base_explanation(
    rule: CompiledRule, doc: MatchDoc, event: EventView | None, matched: dict[str, Any]
) -> dict[str, Any]:
    """The recipient-independent part of an alert's explanation."""
    spec = rule.spec
    as_of = event.date if event is not None else doc.publication_date
    out: dict[str, Any] = {
        "rule": spec.summary(),
        "matched_conditions": matched,
        "matched_terms": list(matched.get("keywords", [])),
        "ipc_overlap": matched.get("ipc", []),
        "number": doc.number,
        "title": doc.title,
        "applicants": doc.applicants,
        "ipc": doc.ipc,
        "sectors": doc.sectors,
        "source": doc.source,
        "publication_date": doc.publication_date.isoformat() if doc.publication_date else None,
        "as_of": as_of.isoformat() if as_of else None,
    }
    if event is not None:
        out["legal_event"] = {
            "code": event.code,
            "date": event.date.isoformat(),
            "description": event.description,
            "category": event.category,
            "parties": event.parties,
        }
    return out


def with_recipient(
    base: dict[str, Any], sub: CompiledSubscription | None, detail: dict[str, Any] | None
) -> dict[str, Any]:
    """The base explanation plus what made this subscriber a recipient."""
    if sub is None:
        return dict(base)
    out = {**base, **(detail or {})}
    scope = (detail or {}).get("scope", {})
    out["matched_terms"] = base["matched_terms"] + [
        t for t in scope.get("keywords", []) if t not in base["matched_terms"]
    ]
    out["ipc_overlap"] = base["ipc_overlap"] or scope.get("ipc", [])
    out["enterprise"] = {
        "id": sub.enterprise_id,
        "name": sub.enterprise_name,
        "subscription": sub.spec.name,
    }
    return out


# --- the matcher ---------------------------------------------------------------------------------


@dataclass
class _RuleIndex:
    by_event: dict[str, list[int]] = field(default_factory=lambda: defaultdict(list))
    by_applicant: dict[str, list[int]] = field(default_factory=lambda: defaultdict(list))
    by_ipc: dict[str, list[int]] = field(default_factory=lambda: defaultdict(list))
    by_term: dict[str, list[int]] = field(default_factory=lambda: defaultdict(list))
    by_subfield: dict[str, list[int]] = field(default_factory=lambda: defaultdict(list))
    by_sector: dict[str, list[int]] = field(default_factory=lambda: defaultdict(list))
    #: per-subscriber rules wait for a subscriber-side hit of this kind
    by_subscriber_hit: dict[str, list[int]] = field(default_factory=lambda: defaultdict(list))
    always: list[int] = field(default_factory=list)


@dataclass
class _SubIndex:
    by_sector: dict[str, list[int]] = field(default_factory=lambda: defaultdict(list))
    by_subfield: dict[str, list[int]] = field(default_factory=lambda: defaultdict(list))
    by_ipc: dict[str, list[int]] = field(default_factory=lambda: defaultdict(list))
    by_term: dict[str, list[int]] = field(default_factory=lambda: defaultdict(list))
    by_competitor: dict[str, list[int]] = field(default_factory=lambda: defaultdict(list))
    by_number: dict[str, list[int]] = field(default_factory=lambda: defaultdict(list))
    #: subscriptions whose keyword expression has no necessary term (verified on every document)
    always: list[int] = field(default_factory=list)


def _automaton(words: Iterable[str]) -> Any:
    automaton = ahocorasick.Automaton()
    for word in set(words):
        if word:
            automaton.add_word(word, word)
    if len(automaton):
        automaton.make_automaton()
        return automaton
    return None


def _found(automaton: Any, text: str) -> set[str]:
    if automaton is None or not text:
        return set()
    return {word for _, word in automaton.iter(text)}


def _ipc_prefixes(symbols: Sequence[str]) -> set[str]:
    return {sym[:i] for sym in symbols for i in range(1, len(sym) + 1)}


class Matcher:
    """Compiled rules and subscriptions; :meth:`match` (indexed) and :meth:`match_naive` agree."""

    def __init__(
        self,
        rules: Sequence[CompiledRule],
        subscriptions: Sequence[CompiledSubscription] = (),
        *,
        screen: SimilarityScreen | None = None,
        local_regions: Sequence[str] = ("鞍山", "辽宁"),
        known_enterprises: Callable[[str], bool] | None = None,
    ) -> None:
        self.rules = [r for r in rules if r.spec.kind == "document"]
        self.subscriptions = list(subscriptions)
        self.screen = screen
        self.regions = tuple(local_regions)
        self.known_enterprises = known_enterprises or (lambda _eid: True)
        self._index_rules()
        self._index_subscriptions()

    # -- index construction -----------------------------------------------------------------

    def _index_rules(self) -> None:
        index = _RuleIndex()
        for i, rule in enumerate(self.rules):
            when = rule.spec.when
            options: list[tuple[float, dict[str, list[int]], Iterable[str]]] = []
            if when.legal_events:
                options.append((0.02 * len(when.legal_events), index.by_event, when.legal_events))
            if rule.applicant_keys:
                options.append(
                    (0.0005 * len(rule.applicant_keys), index.by_applicant, rule.applicant_keys)
                )
            if when.ipc:
                options.append((sum(map(_ipc_cost, when.ipc)), index.by_ipc, when.ipc))
            if rule.query is not None:
                terms = necessary_terms(rule.query, term_cost)
                if terms:
                    options.append((sum(map(term_cost, terms)), index.by_term, terms))
            if when.subfields:
                options.append((0.03 * len(when.subfields), index.by_subfield, when.subfields))
            if when.sectors:
                options.append((0.15 * len(when.sectors), index.by_sector, when.sectors))
            for name in PER_SUBSCRIBER:
                if getattr(when, name):
                    options.append((0.05, index.by_subscriber_hit, [name]))
            if not options:
                index.always.append(i)
                continue
            _, bucket, keys = min(options, key=lambda o: o[0])
            for key in keys:
                bucket[key].append(i)
        self._rule_index = index
        # all terms, not only the indexed ones: verification then needs no substring search
        self._rule_terms = _automaton(
            t for r in self.rules if r.query is not None for t in terms_of(r.query)
        )
        self._rule_applicants = _automaton(k for r in self.rules for k in r.applicant_keys)

    def _index_subscriptions(self) -> None:
        index = _SubIndex()
        for i, sub in enumerate(self.subscriptions):
            scope = sub.spec.scope
            for sector in scope.sectors:
                index.by_sector[sector].append(i)
            for subfield in scope.subfields:
                index.by_subfield[subfield].append(i)
            for prefix in scope.ipc:
                index.by_ipc[prefix].append(i)
            if sub.query is not None:
                terms = necessary_terms(sub.query, term_cost)
                if terms is None:
                    index.always.append(i)
                else:
                    for term in terms:
                        index.by_term[term].append(i)
            for key in sub.competitor_keys:
                index.by_competitor[key].append(i)
            for number in sub.own_numbers:
                index.by_number[number].append(i)
        self._sub_index = index
        self._sub_position = {sub.key: i for i, sub in enumerate(self.subscriptions)}
        self._sub_terms = _automaton(
            t for s in self.subscriptions if s.query is not None for t in terms_of(s.query)
        )
        self._sub_competitors = _automaton(index.by_competitor)

    # -- candidates -------------------------------------------------------------------------------

    def hits(self, doc: MatchDoc) -> DocHits:
        return DocHits(
            rule_terms=frozenset(_found(self._rule_terms, doc.text)),
            sub_terms=frozenset(_found(self._sub_terms, doc.text)),
            applicants=frozenset(_found(self._rule_applicants, doc.applicant_text)),
            competitors=frozenset(_found(self._sub_competitors, doc.applicant_text)),
            ipc_prefixes=frozenset(_ipc_prefixes(doc.ipc)),
        )

    def _rule_candidates(
        self, doc: MatchDoc, hits: DocHits, subscriber_hits: set[str]
    ) -> list[int]:
        index = self._rule_index
        found: set[int] = set(index.always)
        for event in doc.events:
            found.update(index.by_event.get(event.code, ()))
        for name in hits.applicants:
            found.update(index.by_applicant.get(name, ()))
        if index.by_ipc:
            for prefix in hits.ipc_prefixes:
                found.update(index.by_ipc.get(prefix, ()))
        for term in hits.rule_terms:
            found.update(index.by_term.get(term, ()))
        for subfield in doc.subfields:
            found.update(index.by_subfield.get(subfield, ()))
        for sector in doc.sectors:
            found.update(index.by_sector.get(sector, ()))
        for kind in subscriber_hits:
            found.update(index.by_subscriber_hit.get(kind, ()))
        return sorted(found)

    def _subscription_candidates(self, doc: MatchDoc, hits: DocHits) -> list[int]:
        index = self._sub_index
        found: set[int] = set(index.always)
        for sector in doc.sectors:
            found.update(index.by_sector.get(sector, ()))
        for subfield in doc.subfields:
            found.update(index.by_subfield.get(subfield, ()))
        if index.by_ipc:
            for prefix in hits.ipc_prefixes:
                found.update(index.by_ipc.get(prefix, ()))
        for term in hits.sub_terms:
            found.update(index.by_term.get(term, ()))
        for name in hits.competitors:
            found.update(index.by_competitor[name])
        found.update(index.by_number.get(doc.number_base, ()))
        return sorted(found)

    # -- matching -----------------------------------------------------------------------------------

    def similarity(self, docs: Sequence[MatchDoc]) -> list[dict[str, SimilarityHit]]:
        if self.screen is None or self.screen.empty:
            return [{} for _ in docs]
        return self.screen.screen(docs)

    def match_batch(self, docs: Sequence[MatchDoc], *, naive: bool = False) -> list[Match]:
        sims = self.similarity(docs)
        out: list[Match] = []
        for doc, sim in zip(docs, sims, strict=True):
            out.extend(self.match_naive(doc, sim) if naive else self.match(doc, sim))
        return out

    def match(self, doc: MatchDoc, sim: dict[str, SimilarityHit] | None = None) -> list[Match]:
        """Indexed matching of one document."""
        sim = sim or {}
        index = self._sub_index
        hits = self.hits(doc)
        competitor_subs: set[int] = set()
        for name in hits.competitors:
            competitor_subs.update(index.by_competitor[name])
        own_subs = set(index.by_number.get(doc.number_base, ()))
        sim_subs = {self._sub_position[key] for key in sim if key in self._sub_position}
        sub_hits = {
            name
            for name, subs in (
                ("competitor", competitor_subs),
                ("own_patent", own_subs),
                ("similar_to_own", sim_subs),
            )
            if subs
        }
        covering: dict[int, dict[str, Any]] | None = None
        results: list[Match] = []
        for i in self._rule_candidates(doc, hits, sub_hits):
            rule = self.rules[i]
            checked = rule.check(doc, self.regions, hits)
            if checked is None:
                continue
            if covering is None and rule.spec.notify == "subscribers":
                covering = self._cover(doc, self._subscription_candidates(doc, hits), hits)
            candidates: set[int] = set(covering or {})
            if rule.per_subscriber:
                candidates |= competitor_subs | own_subs | sim_subs
            results.extend(
                self._recipients(rule, doc, checked, covering or {}, sim, sorted(candidates), hits)
            )
        return results

    def match_naive(
        self, doc: MatchDoc, sim: dict[str, SimilarityHit] | None = None
    ) -> list[Match]:
        """Every rule against the document, every subscription against each match: the baseline."""
        sim = sim or {}
        results: list[Match] = []
        everyone = range(len(self.subscriptions))
        for rule in self.rules:
            checked = rule.check(doc, self.regions)
            if checked is None:
                continue
            covering = self._cover(doc, everyone)
            results.extend(self._recipients(rule, doc, checked, covering, sim, everyone))
        return results

    def _cover(
        self, doc: MatchDoc, candidates: Iterable[int], hits: DocHits | None = None
    ) -> dict[int, dict[str, Any]]:
        out = {}
        for i in candidates:
            scope_hits = self.subscriptions[i].covers(doc, hits)
            if scope_hits is not None:
                out[i] = scope_hits
        return out

    def _recipients(
        self,
        rule: CompiledRule,
        doc: MatchDoc,
        checked: tuple[dict[str, Any], list[EventView]],
        covering: dict[int, dict[str, Any]],
        sim: dict[str, SimilarityHit],
        candidates: Iterable[int],
        hits: DocHits | None = None,
    ) -> list[Match]:
        matched, events = checked
        subjects: list[EventView | None] = list(events) if rule.event_rule else [None]
        bases = [SharedBase(rule, doc, event, matched) for event in subjects]
        notify = rule.spec.notify
        bureau = [
            Match(rule, doc, event, None, base) for event, base in zip(subjects, bases, strict=True)
        ]
        if notify == "none" or (
            notify == "subscribers" and not self.subscriptions and not rule.per_subscriber
        ):
            return bureau
        if isinstance(notify, list):
            return [
                Match(
                    rule,
                    doc,
                    event,
                    None,
                    base,
                    notify_enterprise=enterprise_id
                    if self.known_enterprises(enterprise_id)
                    else None,
                )
                for enterprise_id in notify
                for event, base in zip(subjects, bases, strict=True)
            ]
        chosen: dict[str, tuple[CompiledSubscription, dict[str, Any]]] = {}
        for i in candidates:
            sub = self.subscriptions[i]
            if sub.enterprise_id in chosen:
                continue
            detail = self._subscriber_detail(
                rule, doc, sub, covering.get(i), sim.get(sub.key), hits
            )
            if detail is not None:
                chosen[sub.enterprise_id] = (sub, detail)
        if not chosen:
            return [] if rule.per_subscriber else bureau
        return [
            Match(rule, doc, event, sub, base, detail)
            for sub, detail in chosen.values()
            for event, base in zip(subjects, bases, strict=True)
        ]

    def _subscriber_detail(
        self,
        rule: CompiledRule,
        doc: MatchDoc,
        sub: CompiledSubscription,
        scope_hits: dict[str, Any] | None,
        hit: SimilarityHit | None,
        hits: DocHits | None = None,
    ) -> dict[str, Any] | None:
        when = rule.spec.when
        detail: dict[str, Any] = {}
        if when.competitor is not None:
            competitors = sub.competitors_in(doc, hits)
            if bool(competitors) != when.competitor:
                return None
            detail["competitors"] = competitors
        if when.own_patent is not None:
            own = doc.number_base in sub.own_numbers
            if own != when.own_patent:
                return None
            detail["own_patent"] = own
        if when.similar_to_own is not None:
            if hit is not None and sub.is_own(doc):
                hit = None
            if (hit is not None) != when.similar_to_own:
                return None
            if hit is not None:
                detail["similarity"] = hit.explain()
        if not rule.per_subscriber:
            if scope_hits is None:
                return None
            detail["scope"] = scope_hits
        elif scope_hits:
            detail["scope"] = scope_hits
        return detail

"""Everything a digest is computed from, read from the store into plain immutable rows.

Indicators are a pure function of these rows (see :mod:`warning.digest.indicators`), and the
rows plus the thresholds hash to ``input_hash``: two builds of the same week from the same
store give the same hash, the same numbers and the same pages.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from warning.applicants import (
    city_of,
    country_of,
    fold_width,
    normalize_applicant,
    province_of,
)
from warning.digest.legal import digest_category
from warning.digest.thresholds import HISTORY_WEEKS
from warning.digest.weeks import IsoWeek
from warning.ipc import matches_prefix
from warning.store.models import (
    Alert,
    Applicant,
    Document,
    DocumentApplicant,
    DocumentTag,
    LegalEvent,
    Rule,
)
from warning.taxonomy import load_taxonomy

#: bump when the way indicators are computed changes, so old hashes no longer match
ALGORITHM_VERSION = "digest-2"
#: test alerts are never sent, suppressed ones were silenced: neither counts as "sent"
EXCLUDED_ALERT_STATUSES = ("test", "suppressed")
_CHUNK = 2000
T = TypeVar("T")


@dataclass(frozen=True)
class ApplicantRow:
    name: str
    key: str
    country: str | None
    province: str | None
    city: str | None
    address: str | None

    def is_local(self, regions: Sequence[str]) -> bool:
        return any(
            region in (self.city, self.province)
            or region in (self.address or "")
            or region in self.name
            for region in regions
        )


@dataclass(frozen=True)
class DocRow:
    id: int
    number: str
    kind: str
    title: str
    publication_date: dt.date | None
    sectors: tuple[str, ...]
    #: "tags" when the classifier tagged it, "ipc" when sectors come from IPC prefixes
    sector_basis: str
    applicants: tuple[ApplicantRow, ...]
    content_hash: str

    @property
    def is_grant(self) -> bool:
        """Granted kinds: B/C (inventions), U/Y (utility models), S (designs)."""
        return self.kind[:1].upper() in {"B", "C", "U", "Y", "S"}

    @property
    def first_country(self) -> str | None:
        return self.applicants[0].country if self.applicants else None


@dataclass(frozen=True)
class EventRow:
    id: int
    code: str
    category: str
    event_date: dt.date
    document: DocRow
    from_parties: tuple[str, ...]
    to_parties: tuple[str, ...]
    from_local: bool
    to_local: bool


@dataclass(frozen=True)
class AlertRow:
    id: int
    severity: str
    sector: str | None
    status: str
    rule_id: str
    title: str
    why: str
    document: DocRow | None
    created_at: dt.datetime


@dataclass
class DigestInputs:
    week: IsoWeek
    #: the digest week and the HISTORY_WEEKS before it, oldest first
    weeks: list[IsoWeek]
    documents: list[DocRow]
    events: list[EventRow]
    alerts: list[AlertRow]
    local_regions: tuple[str, ...]
    thresholds_fingerprint: str
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def input_hash(self) -> str:
        payload = {
            "algorithm": ALGORITHM_VERSION,
            "week": str(self.week),
            "regions": list(self.local_regions),
            "thresholds": self.thresholds_fingerprint,
            "documents": [_doc_key(d) for d in self.documents],
            "events": [
                (
                    e.id,
                    e.code,
                    e.category,
                    e.event_date.isoformat(),
                    _doc_key(e.document),
                    e.from_parties,
                    e.to_parties,
                    e.from_local,
                    e.to_local,
                )
                for e in self.events
            ],
            "alerts": [
                (
                    a.id,
                    a.severity,
                    a.sector,
                    a.status,
                    a.rule_id,
                    a.title,
                    a.why,
                    _doc_key(a.document) if a.document else None,
                    a.created_at.isoformat(),
                )
                for a in self.alerts
            ],
        }
        canonical = json.dumps(payload, sort_keys=True, ensure_ascii=False)
        return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def _doc_key(doc: DocRow) -> tuple[Any, ...]:
    """Every field of a document row that an indicator or a page can show."""
    return (
        doc.id,
        doc.number,
        doc.kind,
        doc.title,
        doc.publication_date.isoformat() if doc.publication_date else None,
        doc.sectors,
        doc.sector_basis,
        doc.content_hash,
        [(a.name, a.key, a.country, a.province, a.city, a.address) for a in doc.applicants],
    )


def _chunks(items: Sequence[T], size: int = _CHUNK) -> Iterator[Sequence[T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def load_inputs(
    session: Session,
    week: IsoWeek,
    *,
    tz: ZoneInfo,
    local_regions: Iterable[str],
    thresholds_fingerprint: str,
) -> DigestInputs:
    """Read the digest week, its 12-week history, its legal events and its alerts."""
    regions = tuple(r for r in local_regions if r)
    weeks = [week.shift(-n) for n in range(HISTORY_WEEKS, -1, -1)]
    first_day, last_day = weeks[0].monday, week.sunday
    doc_cols = (
        Document.id,
        Document.number,
        Document.kind,
        Document.title,
        Document.publication_date,
        Document.ipc,
        Document.applicants,
        Document.addresses,
        Document.office,
        Document.content_hash,
    )
    raw_docs = list(
        session.execute(
            select(*doc_cols)
            .where(Document.publication_date.between(first_day, last_day))
            .where(Document.is_stub.is_(False))
            .order_by(Document.id)
        )
    )
    start_utc, end_utc = week.utc_bounds(tz)
    raw_events = list(
        session.execute(
            select(
                LegalEvent.id,
                LegalEvent.document_id,
                LegalEvent.code,
                LegalEvent.category,
                LegalEvent.event_date,
                LegalEvent.parties,
            )
            .where(LegalEvent.event_date.between(week.monday, week.sunday))
            .order_by(LegalEvent.id)
        )
    )
    raw_alerts = list(
        session.execute(
            select(
                Alert.id,
                Alert.severity,
                Alert.sector,
                Alert.status,
                Alert.rule_id,
                Alert.document_id,
                Alert.explanation,
                Alert.created_at,
                Rule.title.label("rule_title"),
            )
            .outerjoin(Rule, Rule.id == Alert.rule_pk)
            .where(
                # the week of what the alert is about (document published, event dated), so a
                # back-filled week shows its alerts; creation time only when it has no such date
                or_(
                    Alert.as_of.between(week.monday, week.sunday),
                    and_(
                        Alert.as_of.is_(None),
                        Alert.created_at >= start_utc,
                        Alert.created_at < end_utc,
                    ),
                )
            )
            .where(Alert.status.not_in(EXCLUDED_ALERT_STATUSES))
            .order_by(Alert.id)
        )
    )
    # documents named by events and alerts may lie outside the publication window
    known = {row.id for row in raw_docs}
    extra_ids = sorted(
        {r.document_id for r in raw_events} | {r.document_id for r in raw_alerts if r.document_id}
    )
    missing = [i for i in extra_ids if i not in known]
    for ids in _chunks(missing):
        raw_docs.extend(session.execute(select(*doc_cols).where(Document.id.in_(ids))))
    doc_ids = [row.id for row in raw_docs]
    sectors = _sectors_by_document(session, raw_docs)
    applicants = _applicants_by_document(session, doc_ids)
    docs_by_id: dict[int, DocRow] = {}
    for row in raw_docs:
        doc_sectors, basis = sectors[row.id]
        docs_by_id[row.id] = DocRow(
            id=row.id,
            number=row.number,
            kind=row.kind,
            title=row.title or "",
            publication_date=row.publication_date,
            sectors=doc_sectors,
            sector_basis=basis,
            applicants=applicants.get(row.id) or _applicants_from_record(row),
            content_hash=row.content_hash,
        )
    in_window = [docs_by_id[i] for i in sorted(known) if docs_by_id[i].publication_date is not None]
    local_keys = _local_applicant_keys(session, raw_events, regions)
    events = [_event_row(r, docs_by_id[r.document_id], regions, local_keys) for r in raw_events]
    alerts = [
        AlertRow(
            id=r.id,
            severity=r.severity,
            sector=r.sector,
            status=r.status,
            rule_id=r.rule_id,
            title=_rule_title(r.explanation or {}, r.rule_title or r.rule_id),
            why=why_of(r.explanation or {}),
            document=docs_by_id.get(r.document_id) if r.document_id else None,
            created_at=r.created_at,
        )
        for r in raw_alerts
    ]
    return DigestInputs(
        week=week,
        weeks=weeks,
        documents=in_window,
        events=events,
        alerts=alerts,
        local_regions=regions,
        thresholds_fingerprint=thresholds_fingerprint,
    )


def _sectors_by_document(
    session: Session, raw_docs: Sequence[Any]
) -> dict[int, tuple[tuple[str, ...], str]]:
    """Sector ids per document from its newest classifier version; IPC prefixes when untagged."""
    return {i: (t.sectors, t.basis) for i, t in tags_by_document(session, raw_docs).items()}


@dataclass(frozen=True)
class DocTags:
    sectors: tuple[str, ...]
    #: qualified sub-field ids (``steel.silicon_steel``)
    subfields: tuple[str, ...]
    #: "tags" when the classifier tagged it, "ipc" when they come from IPC prefixes
    basis: str


def tags_by_document(session: Session, raw_docs: Sequence[Any]) -> dict[int, DocTags]:
    """Sectors and sub-fields per document (rows with ``id`` and ``ipc``).

    The newest classifier version's assigned tags; a document without any tag falls back to the
    taxonomy's IPC prefixes (sub-fields too, where the taxonomy gives them IPC prefixes).
    """
    taxonomy = load_taxonomy()
    valid = set(taxonomy.sector_ids)
    qualified = {sf.qualified for sf in taxonomy.subfields}
    tags: dict[int, dict[str, list[Any]]] = defaultdict(lambda: defaultdict(list))
    ids = [row.id for row in raw_docs]
    for chunk in _chunks(ids):
        rows = session.execute(
            select(
                DocumentTag.document_id,
                DocumentTag.model_version,
                DocumentTag.sector,
                DocumentTag.subfield,
                DocumentTag.assigned,
                DocumentTag.created_at,
            ).where(DocumentTag.document_id.in_(chunk))
        )
        for row in rows:
            tags[row.document_id][row.model_version].append(row)
    result: dict[int, DocTags] = {}
    for row in raw_docs:
        versions = tags.get(row.id)
        if versions:
            newest = max(versions, key=lambda v: (max(t.created_at for t in versions[v]), v))
            assigned = [t for t in versions[newest] if t.assigned and t.sector in valid]
            result[row.id] = DocTags(
                tuple(sorted({t.sector for t in assigned})),
                tuple(
                    sorted(
                        {
                            f"{t.sector}.{t.subfield}"
                            for t in assigned
                            if t.subfield and f"{t.sector}.{t.subfield}" in qualified
                        }
                    )
                ),
                "tags",
            )
        else:
            symbols = list(row.ipc or [])
            hits = taxonomy.sectors_for_ipc(symbols)
            subfields = {
                sf.qualified
                for sf in taxonomy.subfields
                if sf.ipc and sf.sector in hits and any(matches_prefix(s, sf.ipc) for s in symbols)
            }
            result[row.id] = DocTags(
                tuple(sorted(s for s in hits if s in valid)), tuple(sorted(subfields)), "ipc"
            )
    return result


def _applicants_by_document(
    session: Session, doc_ids: Sequence[int]
) -> dict[int, tuple[ApplicantRow, ...]]:
    found: dict[int, list[tuple[int, ApplicantRow]]] = defaultdict(list)
    for chunk in _chunks(list(doc_ids)):
        rows = session.execute(
            select(
                DocumentApplicant.document_id,
                DocumentApplicant.position,
                DocumentApplicant.address,
                Applicant.display_name,
                Applicant.normalized,
                Applicant.country,
                Applicant.province,
                Applicant.city,
            )
            .join(Applicant, Applicant.id == DocumentApplicant.applicant_id)
            .where(DocumentApplicant.document_id.in_(chunk))
        )
        for r in rows:
            found[r.document_id].append(
                (
                    r.position,
                    ApplicantRow(
                        name=r.display_name,
                        key=r.normalized,
                        country=r.country,
                        province=r.province,
                        city=r.city,
                        address=r.address,
                    ),
                )
            )
    return {k: tuple(a for _, a in sorted(v, key=lambda p: p[0])) for k, v in found.items()}


def _applicants_from_record(row: Any) -> tuple[ApplicantRow, ...]:
    """Applicants of a document not linked in ``document_applicants`` (older ingests)."""
    names: list[str] = list(row.applicants or [])
    addresses: list[str] = list(row.addresses or [])
    result = []
    for pos, name in enumerate(names):
        address = (
            addresses[pos]
            if pos < len(addresses)
            else (addresses[0] if len(addresses) == 1 else None)
        )
        result.append(
            ApplicantRow(
                name=fold_width(name),
                key=normalize_applicant(name) or fold_width(name).lower(),
                country=country_of(address, name, default="CN" if row.office == "CN" else None),
                province=province_of(address),
                city=city_of(address),
                address=address,
            )
        )
    return tuple(result)


def _party_names(parties: Any, side: str) -> tuple[str, ...]:
    if not isinstance(parties, dict):
        return ()
    value = parties.get(side) or []
    if isinstance(value, str):
        value = [value]
    return tuple(fold_width(str(v)) for v in value if str(v).strip())


def _local_applicant_keys(
    session: Session, raw_events: Sequence[Any], regions: Sequence[str]
) -> set[str]:
    """Normalised names among transfer parties that belong to a local applicant."""
    keys = sorted(
        {
            normalize_applicant(name)
            for r in raw_events
            for side in ("from", "to")
            for name in _party_names(r.parties, side)
        }
    )
    local: set[str] = set()
    for chunk in _chunks(keys):
        rows = session.execute(
            select(Applicant.normalized, Applicant.province, Applicant.city).where(
                Applicant.normalized.in_(chunk)
            )
        )
        for r in rows:
            if any(region in (r.city, r.province) for region in regions):
                local.add(r.normalized)
    return local


def _event_row(
    raw: Any, document: DocRow, regions: Sequence[str], local_keys: set[str]
) -> EventRow:
    def is_local(name: str) -> bool:
        return normalize_applicant(name) in local_keys or any(r in name for r in regions)

    from_parties = _party_names(raw.parties, "from") or tuple(a.name for a in document.applicants)
    to_parties = _party_names(raw.parties, "to")
    holders_local = not _party_names(raw.parties, "from") and any(
        a.is_local(regions) for a in document.applicants
    )
    return EventRow(
        id=raw.id,
        code=raw.code,
        category=digest_category(raw.code, raw.category),
        event_date=raw.event_date,
        document=document,
        from_parties=from_parties,
        to_parties=to_parties,
        from_local=holders_local or any(is_local(n) for n in from_parties),
        to_local=any(is_local(n) for n in to_parties),
    )


def _rule_title(explanation: dict[str, Any], fallback: str) -> str:
    for key in ("rule_title", "title"):
        if isinstance(explanation.get(key), str) and explanation[key].strip():
            return str(explanation[key]).strip()
    rule = explanation.get("rule")
    if isinstance(rule, dict) and isinstance(rule.get("title"), str):
        return str(rule["title"])
    return fallback


def _as_text(value: Any) -> str:
    if isinstance(value, list | tuple):
        return "、".join(_as_text(v) for v in value if v not in (None, ""))
    if isinstance(value, dict):
        return "；".join(f"{k}: {_as_text(v)}" for k, v in value.items() if v not in (None, ""))
    return str(value)


def why_of(explanation: dict[str, Any], limit: int = 300) -> str:
    """A one-line "why this alert" from a stored explanation, whatever its exact keys."""
    for key in ("why", "summary", "reason", "text"):
        value = explanation.get(key)
        if isinstance(value, str) and value.strip():
            return value.strip()[:limit]
    parts = []
    for key, label in (
        ("matched", "命中条件"),
        ("conditions", "命中条件"),
        ("matched_terms", "命中词"),
        ("terms", "命中词"),
        ("ipc_overlap", "IPC 重叠"),
        ("competitors", "竞争对手"),
        ("legal_event", "法律事件"),
    ):
        value = explanation.get(key)
        if value:
            parts.append(f"{label}：{_as_text(value)}")
    return "；".join(parts)[:limit]

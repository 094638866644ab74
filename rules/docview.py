"""The matcher's view of a document: folded text, normalised applicants, tags and new events.

Built from stored rows (the match stage) or from `ipwarn parse`/`ipwarn classify` JSON lines
(`ipwarn rules test --docs`), so both paths feed the same matcher.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from rules.query import fold_text
from warning.applicants import fold_width, is_foreign, normalize_applicant
from warning.records import split_number


@dataclass(frozen=True)
class EventView:
    code: str
    date: dt.date
    description: str = ""
    category: str | None = None
    parties: dict[str, Any] = field(default_factory=dict)
    #: the stored legal_events.id (None in back-tests from files)
    id: int | None = None


@dataclass
class MatchDoc:
    number: str
    office: str
    kind: str
    title: str = ""
    abstract: str = ""
    claims: str = ""
    applicants: list[str] = field(default_factory=list)
    addresses: list[str] = field(default_factory=list)
    ipc: list[str] = field(default_factory=list)
    publication_date: dt.date | None = None
    source: str = "file"
    #: sector -> confidence and "sector.subfield" -> confidence (assigned tags only)
    sectors: dict[str, float] = field(default_factory=dict)
    subfields: dict[str, float] = field(default_factory=dict)
    #: legal events to match (the new ones, live; all of them in a back-test)
    events: list[EventView] = field(default_factory=list)
    id: int | None = None
    #: applicant keys of the parties of the events (assignors/assignees of a transfer)
    party_names: list[str] = field(default_factory=list)
    #: False when only a new legal event brought an old document here: document-level rules
    #: (those without ``legal_events``) then do not fire again on an old publication
    is_new_publication: bool = True

    def __post_init__(self) -> None:
        self.text = fold_text(" ".join((self.title, self.abstract, self.claims)))
        self.applicant_keys = [
            normalize_applicant(a) or fold_width(a).lower() for a in self.applicants
        ]
        self.kind_letter = self.kind[:1].upper()
        self.number_key = "".join(self.number.split()).upper()
        self.number_base = split_number(self.number_key)[1]

    @property
    def applicant_text(self) -> str:
        """All applicant keys in one string, for substring matches of rule applicants."""
        return "\x1f".join(self.applicant_keys + self.party_names)

    def address_for(self, position: int) -> str | None:
        if position < len(self.addresses):
            return self.addresses[position]
        return self.addresses[0] if len(self.addresses) == 1 else None

    def foreign_applicants(self) -> list[str]:
        cached: list[str] | None = self.__dict__.get("_foreign")
        if cached is None:
            cached = [
                a
                for i, a in enumerate(self.applicants)
                if is_foreign(self.address_for(i), a, self.office)
            ]
            self.__dict__["_foreign"] = cached
        return cached

    def local_applicants(self, regions: tuple[str, ...]) -> list[str]:
        out = []
        for i, name in enumerate(self.applicants):
            address = fold_width(self.address_for(i) or "")
            if any(r in address or r in name for r in regions):
                out.append(name)
        return out

    def as_of(self) -> dt.date | None:
        dates = [e.date for e in self.events]
        return max(dates) if dates else self.publication_date


def _date(value: Any) -> dt.date | None:
    if value in (None, ""):
        return None
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    return dt.date.fromisoformat(str(value)[:10])


def tags_from_json(data: dict[str, Any]) -> tuple[dict[str, float], dict[str, float]]:
    """Sector and sub-field confidences from `ipwarn classify` output fields.

    Accepts ``sectors`` (list of ids or {id: score}), ``scores`` ({id: score}) and ``subfields``
    (list of "sector.subfield" ids or of {sector, subfield, score} objects).
    """
    scores = {str(k): float(v) for k, v in (data.get("scores") or {}).items()}
    sectors: dict[str, float] = {}
    raw = data.get("sectors") or []
    if isinstance(raw, dict):
        sectors = {str(k): float(v) for k, v in raw.items()}
    else:
        sectors = {str(s): scores.get(str(s), 1.0) for s in raw if s != "other"}
    subfields: dict[str, float] = {}
    for item in data.get("subfields") or []:
        if isinstance(item, str):
            subfields[item] = 1.0
        elif isinstance(item, dict) and item.get("subfield"):
            name = str(item["subfield"])
            qualified = name if "." in name else f"{item.get('sector', '')}.{name}"
            subfields[qualified] = float(item.get("score", 1.0))
    return sectors, subfields


def doc_from_json(data: dict[str, Any]) -> MatchDoc:
    """A MatchDoc from one `ipwarn parse` line (DocumentRecord fields, plus optional tags)."""
    from warning.records import DocumentRecord

    record = DocumentRecord.model_validate(data)
    sectors, subfields = tags_from_json(data)
    events = [
        EventView(
            code=e.code.upper(),
            date=e.date,
            description=e.description,
            category=e.category,
            parties=e.parties,
        )
        for e in record.legal_events
    ]
    return MatchDoc(
        number=record.number,
        office=record.office,
        kind=record.kind,
        title=record.title,
        abstract=record.abstract,
        claims=record.claims,
        applicants=record.applicants,
        addresses=record.addresses,
        ipc=record.ipc,
        publication_date=record.publication_date,
        source=record.source,
        sectors=sectors,
        subfields=subfields,
        events=events,
        party_names=party_keys(events),
    )


def party_keys(events: list[EventView]) -> list[str]:
    names: list[str] = []
    for event in events:
        for value in (event.parties or {}).values():
            for name in value if isinstance(value, list) else [value]:
                if isinstance(name, str) and name.strip():
                    names.append(normalize_applicant(name) or fold_width(name).lower())
    return names


def has_tags(data: dict[str, Any]) -> bool:
    return any(k in data for k in ("sectors", "scores", "subfields"))

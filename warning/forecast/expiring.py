"""`ipwarn expiring`: deadlines of rights in force in a scope (a sector, an enterprise's scope).

An enterprise's scope is the union of its active subscriptions' sectors, sub-fields and IPC
prefixes (keywords are not used here: they need the full text); its own patents
(``own_patents``) are always included and marked ``own``, as reminders of their fees.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from sqlalchemy import select

from warning.config import Settings
from warning.errors import InputError, Problem
from warning.forecast.data import StoreDoc, load_documents
from warning.forecast.lapse import lapse_estimates, load_claims
from warning.forecast.legal import add_months, deadlines
from warning.forecast.service import check_sector
from warning.store.engine import Store
from warning.store.models import Enterprise, Subscription, utcnow

MAX_MONTHS = 120


@dataclass(frozen=True)
class Scope:
    label: str
    sectors: frozenset[str] = field(default_factory=frozenset)
    subfields: frozenset[str] = field(default_factory=frozenset)
    ipc: tuple[str, ...] = ()
    own: frozenset[str] = field(default_factory=frozenset)
    everything: bool = False
    #: only documents of this sector (own patents are always covered)
    sector: str | None = None

    def covers(self, doc: StoreDoc) -> bool:
        if doc.number in self.own:
            return True
        if self.sector is not None and self.sector not in doc.sectors:
            return False
        return (
            self.everything
            or bool(self.sectors & set(doc.sectors))
            or bool(self.subfields & set(doc.subfields))
            or any(s.startswith(p) for s in doc.ipc for p in self.ipc)
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "label": self.label,
            "sectors": sorted(self.sectors),
            "subfields": sorted(self.subfields),
            "ipc": list(self.ipc),
            "own_patents": sorted(self.own),
            "sector": self.sector,
        }


def enterprise_scope(store: Store, enterprise_id: str) -> Scope:
    with store.read_session() as session:
        enterprise = session.get(Enterprise, enterprise_id)
        if enterprise is None:
            raise InputError(
                [
                    Problem(
                        f"no enterprise {enterprise_id!r}; see `ipwarn subscriptions list`",
                        field="--enterprise",
                    )
                ]
            )
        scopes = list(
            session.scalars(
                select(Subscription.scope)
                .where(Subscription.enterprise_id == enterprise_id)
                .where(Subscription.active.is_(True))
            )
        )
    sectors: set[str] = set()
    subfields: set[str] = set()
    ipc: list[str] = []
    own: set[str] = set()
    for scope in scopes:
        sectors.update(scope.get("sectors") or [])
        subfields.update(scope.get("subfields") or [])
        ipc.extend(p for p in scope.get("ipc") or [] if p not in ipc)
        own.update("".join(str(n).split()).upper() for n in scope.get("own_patents") or [])
    return Scope(
        f"enterprise {enterprise_id}",
        frozenset(sectors),
        frozenset(subfields),
        tuple(ipc),
        frozenset(own),
    )


def expiring_documents(
    docs: list[StoreDoc],
    as_of: dt.date,
    months: int,
    scope: Scope,
    claims: Mapping[int, int] | None = None,
) -> dict[str, Any]:
    """The deadlines in scope; each item carries its right's 12-month lapse probability (or null).

    The lapse model is fitted on every document of the store, not only the scope's: the hazard
    of non-payment is a property of the register, and a scope alone rarely holds enough events.
    """
    covered = [d for d in docs if scope.covers(d)]
    items = deadlines(covered, as_of, months, own=scope.own)
    status, probabilities = lapse_estimates(docs, as_of, claims)
    return {
        "as_of": as_of.isoformat(),
        "until": add_months(as_of, months).isoformat(),
        "months": months,
        "scope": scope.to_json(),
        "items": [
            {**d.to_json(), "lapse_probability_12m": probabilities.get(d.doc.number)} for d in items
        ],
        "lapse_model": status,
    }


def run_expiring(
    store: Store,
    settings: Settings,
    *,
    months: int,
    sector: str | None = None,
    enterprise_id: str | None = None,
    as_of: dt.date | None = None,
) -> dict[str, Any]:
    if not 1 <= months <= MAX_MONTHS:
        raise InputError(
            [Problem(f"must be between 1 and {MAX_MONTHS}, got {months}", field="--months")]
        )
    check_sector(sector)
    day = as_of or utcnow().astimezone(settings.tz).date()
    if enterprise_id:
        scope = enterprise_scope(store, enterprise_id)
        if sector:
            scope = replace(scope, label=f"{scope.label}, sector {sector}", sector=sector)
    elif sector:
        scope = Scope(f"sector {sector}", everything=True, sector=sector)
    else:
        scope = Scope("all sectors", everything=True)
    with store.read_session() as session:
        docs = load_documents(session, until=day, with_events=True)
        claims = load_claims(session, docs)
    return expiring_documents(docs, day, months, scope, claims)

"""Weekly series per sector, sub-field and IPC main group, built from document rows.

Measures: ``publications`` (every document published in the week), ``grants`` (kinds B/C, U/Y,
S) and ``foreign_share`` (documents whose first applicant is outside mainland China, over those
whose first applicant's country is known). Weeks are ISO weeks of the publication date.

A week in which the store holds no document at all is **missing** (not zero), as in the digest:
it is left out of every series and the remaining weeks are treated as consecutive. A week with
documents but none in a field is a zero for that field. A foreign-share week needs at least
:data:`SHARE_MIN_DOCUMENTS` documents of known country in the field, else it is left out of that
series. IPC main groups are taken from a document's symbols that fall under its sector's IPC
prefixes (``C21D8/12`` -> ``C21D8/00`` in steel).
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

from warning.digest.weeks import IsoWeek
from warning.forecast.data import StoreDoc
from warning.ipc import matches_prefix
from warning.taxonomy import load_taxonomy

MEASURES: tuple[str, ...] = ("publications", "grants", "foreign_share")
SHARE_MIN_DOCUMENTS = 3
_GROUP = re.compile(r"^([A-H]\d{2}[A-Z]\d{1,4})/")


def main_group(symbol: str) -> str | None:
    """``C21D8/12`` -> ``C21D8/00``; None for a bare subclass."""
    match = _GROUP.match(symbol)
    return f"{match.group(1)}/00" if match else None


@dataclass(frozen=True, order=True)
class SeriesKey:
    sector: str
    subfield: str | None
    ipc: str | None
    measure: str

    @property
    def level(self) -> str:
        return "ipc" if self.ipc else "subfield" if self.subfield else "sector"

    @property
    def label(self) -> str:
        return " / ".join(p for p in (self.sector, self.subfield, self.ipc) if p)


@dataclass
class Series:
    key: SeriesKey
    weeks: list[IsoWeek]
    values: list[float]
    #: foreign share only: each week's number of documents of known country (the share's base)
    sizes: list[float] | None = None

    @property
    def is_count(self) -> bool:
        return self.key.measure != "foreign_share"


@dataclass
class _Tally:
    publications: list[int]
    grants: list[int]
    foreign: list[int]
    known: list[int]
    total: int = field(default=0)


def fields_of(doc: StoreDoc) -> list[tuple[str, str | None, str | None]]:
    """(sector, sub-field, IPC group) keys a document counts for."""
    taxonomy = load_taxonomy()
    keys: list[tuple[str, str | None, str | None]] = []
    for sector in doc.sectors:
        keys.append((sector, None, None))
        keys.extend((sector, sf, None) for sf in doc.subfields if sf.startswith(sector + "."))
        prefixes = taxonomy.sector(sector).ipc
        groups = {
            g for s in doc.ipc if matches_prefix(s, prefixes) and (g := main_group(s)) is not None
        }
        keys.extend((sector, None, g) for g in sorted(groups))
    return keys


def build_series(
    docs: Iterable[StoreDoc], as_of: IsoWeek, *, sector: str | None = None
) -> list[Series]:
    """Every field's series over the observed weeks up to ``as_of`` (documents after it ignored)."""
    docs = [d for d in docs if IsoWeek.of(d.publication_date) <= as_of]
    weeks = sorted({IsoWeek.of(d.publication_date) for d in docs})
    index = {w: i for i, w in enumerate(weeks)}
    n = len(weeks)
    tallies: dict[tuple[str, str | None, str | None], _Tally] = defaultdict(
        lambda: _Tally([0] * n, [0] * n, [0] * n, [0] * n)
    )
    for doc in docs:
        i = index[IsoWeek.of(doc.publication_date)]
        foreign = doc.is_foreign
        for key in fields_of(doc):
            if sector is not None and key[0] != sector:
                continue
            tally = tallies[key]
            tally.publications[i] += 1
            tally.grants[i] += doc.is_grant
            tally.total += 1
            if foreign is not None:
                tally.known[i] += 1
                tally.foreign[i] += foreign
    result: list[Series] = []
    for (sec, sub, group), tally in tallies.items():
        result.append(
            Series(
                SeriesKey(sec, sub, group, "publications"),
                weeks,
                [float(v) for v in tally.publications],
            )
        )
        result.append(
            Series(SeriesKey(sec, sub, group, "grants"), weeks, [float(v) for v in tally.grants])
        )
        share_weeks = [
            w for w, k in zip(weeks, tally.known, strict=True) if k >= SHARE_MIN_DOCUMENTS
        ]
        share_values = [
            f / k
            for f, k in zip(tally.foreign, tally.known, strict=True)
            if k >= SHARE_MIN_DOCUMENTS
        ]
        share_sizes = [float(k) for k in tally.known if k >= SHARE_MIN_DOCUMENTS]
        result.append(
            Series(
                SeriesKey(sec, sub, group, "foreign_share"), share_weeks, share_values, share_sizes
            )
        )
    return sorted(result, key=lambda s: sort_key(s.key))


def sort_key(key: SeriesKey) -> tuple[int, int, str, str, int]:
    order = load_taxonomy().sector_ids
    level = {"sector": 0, "subfield": 1, "ipc": 2}[key.level]
    return (
        order.index(key.sector) if key.sector in order else len(order),
        level,
        key.subfield or "",
        key.ipc or "",
        MEASURES.index(key.measure),
    )

"""The sector taxonomy (sectors, sub-fields, IPC prefixes, seed keywords).

``warning/data/sectors.yaml`` is a verbatim copy of the mission's ``shared/taxonomy/sectors.yaml``
(a test checks they agree when the shared copy is present); the product reads only the packaged copy.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from importlib import resources

import yaml

from warning.ipc import matches_prefix

OTHER = "other"


@dataclass(frozen=True)
class Subfield:
    sector: str
    id: str
    name_zh: str
    keywords: tuple[str, ...]
    ipc: tuple[str, ...]

    @property
    def qualified(self) -> str:
        """``steel.silicon_steel``: how rules and subscriptions name a sub-field."""
        return f"{self.sector}.{self.id}"


@dataclass(frozen=True)
class Sector:
    id: str
    name_zh: str
    ipc: tuple[str, ...]
    subfields: tuple[Subfield, ...]


@dataclass(frozen=True)
class Taxonomy:
    version: int
    sectors: tuple[Sector, ...]

    @property
    def sector_ids(self) -> tuple[str, ...]:
        return tuple(s.id for s in self.sectors)

    @property
    def labels(self) -> tuple[str, ...]:
        """The sector ids plus ``other``: the six labels of the classifier."""
        return (*self.sector_ids, OTHER)

    def sector(self, sector_id: str) -> Sector:
        for sector in self.sectors:
            if sector.id == sector_id:
                return sector
        raise KeyError(sector_id)

    @property
    def subfields(self) -> tuple[Subfield, ...]:
        return tuple(sf for s in self.sectors for sf in s.subfields)

    def subfield(self, qualified: str) -> Subfield:
        for sf in self.subfields:
            if sf.qualified == qualified:
                return sf
        raise KeyError(qualified)

    def sectors_for_ipc(self, symbols: list[str]) -> dict[str, list[str]]:
        """Sector id -> the IPC prefixes that put normalised ``symbols`` in it."""
        hits: dict[str, list[str]] = {}
        for sector in self.sectors:
            for symbol in symbols:
                prefix = matches_prefix(symbol, sector.ipc)
                if prefix and prefix not in hits.setdefault(sector.id, []):
                    hits[sector.id].append(prefix)
            if not hits.get(sector.id):
                hits.pop(sector.id, None)
        return hits

    def name_zh(self, sector_id: str) -> str:
        return "其他" if sector_id == OTHER else self.sector(sector_id).name_zh


def parse_taxonomy(text: str) -> Taxonomy:
    data = yaml.safe_load(text)
    sectors = []
    for sid, body in data["sectors"].items():
        subfields = tuple(
            Subfield(
                sector=sid,
                id=fid,
                name_zh=f.get("name_zh", fid),
                keywords=tuple(f.get("keywords", [])),
                ipc=tuple(f.get("ipc", [])),
            )
            for fid, f in (body.get("subfields") or {}).items()
        )
        sectors.append(
            Sector(
                id=sid,
                name_zh=body.get("name_zh", sid),
                ipc=tuple(body.get("ipc", [])),
                subfields=subfields,
            )
        )
    return Taxonomy(version=int(data.get("version", 1)), sectors=tuple(sectors))


@cache
def load_taxonomy() -> Taxonomy:
    """The packaged taxonomy, parsed once."""
    text = resources.files("warning").joinpath("data/sectors.yaml").read_text(encoding="utf-8")
    return parse_taxonomy(text)

"""Sub-field evidence (seed keywords, IPC), weak labels, and the calibrated sub-field head (v3+).

The taxonomy tags sub-fields "from text (keywords are seed terms) and, where given, IPC". The
weak label follows it: a document is in sub-field F of sector S when it is in S and either an IPC
symbol falls under F's prefixes or one of F's keywords is in its text. Every F prefix lies under
an S prefix, so an IPC match implies S.

Scores follow from that definition. With a keyword or IPC hit, F holds whenever S does, so the
score is S's calibrated probability. Without either, only a text-only document can still be in F
(through the IPC it would carry): its score is the probability that its IPC would fall under F's
prefixes, Platt-calibrated from the hierarchical model's columns for F's IPC classes, and capped
at S's probability because F lies inside S. With IPC and no hit, the document is not in F.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from models.text import normalize_text
from warning.ipc import matches_prefix
from warning.taxonomy import Taxonomy


def _keyword_pattern(keyword: str) -> str:
    """English keywords ("led", "pcb") must be whole words, or "controlled" would match "led"."""
    escaped = re.escape(keyword)
    return rf"(?<![a-z0-9]){escaped}(?![a-z0-9])" if keyword.isascii() else escaped


class KeywordMatcher:
    """Per sector, one regex over all its sub-fields' seed keywords (normalised text)."""

    def __init__(self, taxonomy: Taxonomy) -> None:
        self._regex: dict[str, re.Pattern[str]] = {}
        self._owners: dict[str, dict[str, set[str]]] = {}
        for sector in taxonomy.sectors:
            owners: dict[str, set[str]] = {}
            for sf in sector.subfields:
                for keyword in sf.keywords:
                    owners.setdefault(normalize_text(keyword), set()).add(sf.id)
            if owners:
                alternatives = sorted(owners, key=len, reverse=True)
                self._regex[sector.id] = re.compile("|".join(map(_keyword_pattern, alternatives)))
                self._owners[sector.id] = owners

    def subfields(self, sector: str, normalized: str) -> set[str]:
        """Ids of the sector's sub-fields whose keywords occur in the normalised text."""
        regex = self._regex.get(sector)
        if regex is None:
            return set()
        owners = self._owners[sector]
        return {sf for keyword in regex.findall(normalized) for sf in owners[keyword]}


def subfield_truth(
    taxonomy: Taxonomy,
    sectors: Sequence[frozenset[str]],
    texts: Sequence[str],
    ipc: Sequence[Sequence[str]],
) -> tuple[npt.NDArray[np.bool_], npt.NDArray[np.bool_]]:
    """(weak label, IPC hit) per document and sub-field, in taxonomy order.

    ``sectors`` are each document's sector labels, ``texts`` its raw text.
    """
    matcher = KeywordMatcher(taxonomy)
    subfields = taxonomy.subfields
    truth = np.zeros((len(texts), len(subfields)), dtype=np.bool_)
    by_ipc = np.zeros_like(truth)
    for i, (labels, text, symbols) in enumerate(zip(sectors, texts, ipc, strict=True)):
        normalized = normalize_text(text)
        found = {s: matcher.subfields(s, normalized) for s in labels}
        for k, sf in enumerate(subfields):
            by_ipc[i, k] = any(matches_prefix(symbol, sf.ipc) for symbol in symbols)
            truth[i, k] = sf.sector in labels and (by_ipc[i, k] or sf.id in found[sf.sector])
    return truth, by_ipc


def subfield_columns(taxonomy: Taxonomy, columns: Sequence[str]) -> list[npt.NDArray[np.int64]]:
    """Per sub-field: the hierarchical columns ``"<sector>:<IPC class>"`` of its IPC prefixes.

    Empty for a sub-field without IPC (it is tagged from keywords only).
    """
    index = {name: k for k, name in enumerate(columns)}
    return [
        np.array(
            sorted({index[c] for p in sf.ipc if (c := f"{sf.sector}:{p[:3]}") in index}),
            dtype=np.int64,
        )
        for sf in taxonomy.subfields
    ]


def subfield_decision(
    scores: npt.NDArray[np.float64], mapping: Sequence[npt.NDArray[np.int64]]
) -> npt.NDArray[np.float64]:
    """Per document and sub-field: its best IPC-class column (-10 where it has none)."""
    out = np.full((scores.shape[0], len(mapping)), -10.0)
    for k, cols in enumerate(mapping):
        if len(cols):
            out[:, k] = scores[:, cols].max(axis=1)
    return out


#: :func:`recalibrate` parameters that leave scores as they are
IDENTITY = np.array([[-1.0, 0.0], [-1.0, 0.0]])


def recalibrate(
    raw: npt.NDArray[np.float64], hit: bool, recalibration: npt.NDArray[np.float64]
) -> npt.NDArray[np.float64]:
    """Text-only sub-field scores, recalibrated: sigmoid(-(a * logit(raw) + b)), elementwise.

    Keyword hits score their sector's probability and text-model scores are capped at it; both
    came out overconfident on keyword titles (the sector model is calibrated over all titles,
    not over those carrying a sub-field keyword), so each kind gets one pooled Platt fit.
    """
    a, b = recalibration[0 if hit else 1]
    p = np.clip(raw, 1e-4, 1 - 1e-4)
    return np.asarray(1.0 / (1.0 + np.exp(a * np.log(p / (1 - p)) + b)))

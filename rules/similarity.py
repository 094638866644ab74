"""Infringement-risk screening: which new documents a patent engineer should read for each of an
enterprise's products and own patents.

* **Evidence is distinctive words.** Documents and profiles are sets of weighted words
  (:mod:`rules.termweights`: rare technical words weigh much, 装置/提高/新能源汽车 nothing). A
  document can alert only when it shares distinctive content with a profile: two separate shared
  word families (取向硅钢 and 取向 are one family) of which one is distinctive, or one very rare
  technical compound; generic overlaps never alert.
* **One profile per product description / own patent**, reduced to its most distinctive words, so
  a long text is not diluted by its own boilerplate; a hit names the profile.
* **Field consistency.** A document in the subscription's field (its sectors, sub-fields, IPC, or
  the IPC main groups of the enterprise's own patents) meets the in-field bar; any other document
  must meet a much higher bar (ten times fewer expected false alerts) and share two distinctive
  word families. The explanation says which bar applied and why.
* **Calibrated thresholds.** For each profile the null distribution is the score between random
  background documents of the same field and "pseudo-profiles" made of other random documents of
  that field with as many weighted words as the profile (random pairs within the field, length
  matched). The threshold is the percentile at which a profile expects
  ``false_alerts_per_week`` false alerts at the weekly document volume; the percentile and the
  expected weekly count are reported with every hit.
* **Severity from evidence**, never from similarity alone: a granted, in-force patent (B/U) in the
  field with a strong score is 橙 (红 when very strong), a publication (A) at most 黄, a weak or
  out-of-field match 蓝.

The result is a reason to read the claims, never a legal finding of infringement.
"""

from __future__ import annotations

import gzip
import json
import random
import re
import threading
import zlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache, lru_cache
from importlib import resources
from typing import TYPE_CHECKING, Any

import ahocorasick
import numpy as np
from scipy import sparse

from rules.termweights import (
    _WORD,
    DISTINCTIVE_SHARE,
    TermWeights,
    _segmenter,
    canonical,
    compound_parts,
    terms,
)
from warning.taxonomy import load_taxonomy

if TYPE_CHECKING:
    from rules.docview import MatchDoc

NOTE = "text similarity for screening only; not a legal assessment of infringement"
#: documents of one week in the packaged 2019-W28 gazette: the volume a small store is
#: calibrated for (a real CNIPA week), so thresholds do not collapse on a test store
REFERENCE_WEEKLY_VOLUME = 64_466
#: legal events after which a granted patent is no longer in force
LAPSE_CODES = frozenset({"CF01", "AD01", "AV01", "AR01", "EXPY", "PC01", "IW01", "IW02", "CX01"})
#: a technical compound this rare is enough evidence on its own (in the field)
RARE_SHARE = 0.0003
BAR_TEXT = {
    "own IPC": "in-field threshold of the subscription's own IPC (its own calibration)",
    "field": "in-field threshold",
    "outside the field": "outside the field: higher threshold and two distinctive word families",
}
SEVERITY_RANK = {"critical": 0, "high": 1, "medium": 2, "low": 3}


@cache
def background_titles() -> tuple[str, ...]:
    """4,000 packaged gazette titles (keyword rarity when indexing rules)."""
    text = (
        resources.files("rules").joinpath("data/background_titles.txt").read_text(encoding="utf-8")
    )
    return tuple(line for line in text.splitlines() if line.strip())


@cache
def packaged_background() -> tuple[tuple[str, tuple[str, ...]], ...]:
    """(title, IPC symbols) of the 64,466 packaged 2019-W28 gazette documents."""
    from models.data import DATA_DIR

    with gzip.open(DATA_DIR / "gazette_2019.jsonl.gz", "rt", encoding="utf-8") as handle:
        rows = [json.loads(line) for line in handle]
    return tuple((r["title"], tuple(r["ipc"])) for r in rows)


# --- the field of a subscription ----------------------------------------------------------------


@dataclass(frozen=True)
class Field:
    """Where a subscription's technology lives: tags, IPC prefixes, own patents' main groups."""

    sectors: frozenset[str] = frozenset()
    subfields: frozenset[str] = frozenset()
    ipc: tuple[str, ...] = ()
    #: IPC main groups of the enterprise's own patents ("C21D8/")
    own_ipc: tuple[str, ...] = ()
    min_confidence: float = 0.5

    @property
    def stated(self) -> bool:
        return bool(self.sectors or self.subfields or self.ipc or self.own_ipc)

    @property
    def ipc_prefixes(self) -> tuple[str, ...]:
        """Every IPC prefix of the field, including those of its sectors and sub-fields."""
        taxonomy = load_taxonomy()
        out = list(self.ipc) + list(self.own_ipc)
        for sector in taxonomy.sectors:
            if sector.id in self.sectors:
                out += sector.ipc
        for sf in taxonomy.subfields:
            if sf.qualified in self.subfields:
                out += sf.ipc
        return tuple(dict.fromkeys(out))

    def check(
        self,
        ipc: Sequence[str],
        sectors: dict[str, float] | None = None,
        subfields: dict[str, float] | None = None,
    ) -> list[str]:
        """Why a document is in this field (empty: it is not)."""
        if not self.stated:
            return ["no field stated by the subscription"]
        reasons = [
            f"sector {s}"
            for s in sorted(self.sectors)
            if (sectors or {}).get(s, 0.0) >= self.min_confidence
        ]
        reasons += [
            f"sub-field {s}"
            for s in sorted(self.subfields)
            if (subfields or {}).get(s, 0.0) >= self.min_confidence
        ]
        for label, prefixes in (("subscription IPC", self.ipc), ("own patents' IPC", self.own_ipc)):
            hits = sorted({p for p in prefixes for sym in ipc if sym.startswith(p)})
            if hits:
                reasons.append(f"{label} {', '.join(hits)}")
        if not reasons:
            taxonomy_ipc = _prefixes_only(self)
            hits = sorted({p for p in taxonomy_ipc for sym in ipc if sym.startswith(p)})
            if hits:
                reasons.append(f"IPC {', '.join(hits)} of the subscribed sectors/sub-fields")
        return reasons


@cache
def _prefixes_only(f: Field) -> tuple[str, ...]:
    own = set(f.ipc) | set(f.own_ipc)
    return tuple(p for p in f.ipc_prefixes if p not in own)


def main_group(symbol: str) -> str:
    """``C21D8/12`` -> ``C21D8/`` (the level at which own patents define the field)."""
    head, sep, _ = symbol.partition("/")
    return head + sep if sep else symbol


# --- profiles, calibration, hits ----------------------------------------------------------------


@dataclass(frozen=True)
class Profile:
    """One product description or own patent of one subscription."""

    key: str
    label: str
    text: str
    field: Field = field(default_factory=Field)


@dataclass(frozen=True)
class Calibration:
    threshold_in: float
    threshold_out: float
    percentile_in: float
    percentile_out: float
    #: expected false alerts per week at the weekly volume, in and outside the field
    expected_in: float
    expected_out: float
    null_in: np.ndarray = field(repr=False, compare=False)
    null_out: np.ndarray = field(repr=False, compare=False)
    #: the subscription's own IPC (and its own patents' main groups): the closest field, with a
    #: share of the in-field budget over its much smaller volume (no own IPC: the field's bar)
    threshold_close: float = 0.0
    percentile_close: float = 0.0
    expected_close: float = 0.0
    null_close: np.ndarray = field(default_factory=lambda: np.array([]), repr=False, compare=False)

    def summary(self) -> dict[str, float]:
        return {
            "threshold_own_ipc": round(self.threshold_close, 3),
            "percentile_own_ipc": round(self.percentile_close, 3),
            "expected_weekly_own_ipc": round(self.expected_close, 2),
            "threshold_in_field": round(self.threshold_in, 3),
            "threshold_outside_field": round(self.threshold_out, 3),
            "percentile_in_field": round(self.percentile_in, 3),
            "percentile_outside_field": round(self.percentile_out, 4),
            "expected_weekly_in_field": round(self.expected_in, 2),
            "expected_weekly_outside_field": round(self.expected_out, 2),
        }


@dataclass(frozen=True)
class SimilarityHit:
    score: float
    #: which own patent or product it resembles ("product 1: ...", "own patent CN112345678B")
    against: str
    #: shared weighted words, heaviest first
    terms: tuple[tuple[str, float], ...]
    in_field: bool
    field_reasons: tuple[str, ...]
    threshold: float
    threshold_percentile: float
    #: share of the field's random pairs with a lower score (0..100)
    percentile: float
    expected_weekly: float
    severity: str
    severity_reason: str
    #: which bar applied: "own IPC", "field" or "outside the field"
    bar: str = "field"
    #: what the product is, as the document had to name it ("LED封装", "直线振动筛 / 振动筛")
    head_concept: str = ""

    @property
    def overlapping_terms(self) -> tuple[str, ...]:
        return tuple(t for t, _ in self.terms)

    def explain(self) -> dict[str, Any]:
        return {
            "score": round(self.score, 3),
            "threshold": round(self.threshold, 3),
            "threshold_percentile": round(self.threshold_percentile, 3),
            "percentile": round(self.percentile, 3),
            "expected_weekly_false_alerts": round(self.expected_weekly, 2),
            "against": self.against,
            "overlapping_terms": list(self.overlapping_terms),
            "term_weights": {t: round(w, 2) for t, w in self.terms},
            "field_check": {
                "in_field": self.in_field,
                "reasons": list(self.field_reasons),
                "bar": BAR_TEXT.get(self.bar, self.bar),
            },
            "head_concept": self.head_concept,
            "severity": self.severity,
            "severity_reason": self.severity_reason,
            "note": NOTE,
        }


#: words joining coordinated modifiers ("过铁保护和排料口自动调节系统")
COORDINATORS = frozenset({"和", "及", "与", "以及", "或", "或者"})


def head_word(text: str, tw: TermWeights) -> str:
    """The head of the first noun phrase of a text: the last weighted word of its first clause.

    When the clause ends in a generic noun (系统, 装置) that coordinated modifiers share
    ("圆锥破碎机液压过铁保护和排料口自动调节系统"), the last weighted word is one of the
    conjuncts (排料口), not what the product is: the first weighted word, which scopes them all
    (圆锥破碎机), is.
    """
    first = re.split(r"[，,；;。:：、\s]", canonical(text).strip(), maxsplit=1)[0]
    tokens = _segmenter().lcut(first, HMM=False)
    weighted = [i for i, w in enumerate(tokens) if _WORD.fullmatch(w) and tw.weight(w) > 0]
    if not weighted:
        return ""
    generic_end = weighted[-1] < len(tokens) - 1
    coordinated = any(tokens[i] in COORDINATORS for i in range(weighted[0] + 1, weighted[-1]))
    return tokens[weighted[0] if generic_end and coordinated else weighted[-1]]


@dataclass(frozen=True)
class HeadConcept:
    """What the product is: the head word of the first clause extended to the longest weighted
    word of that clause ending with it (封装 -> LED封装 in "大功率LED芯片封装", 负极材料 ->
    石墨负极材料 in "人造石墨负极材料"). A document must name it, or, when its modifier weighs
    nothing (直线 of 直线振动筛), its head part (振动筛)."""

    word: str = ""
    #: other words that stand for it (the head part of a compound with a generic modifier)
    near: tuple[str, ...] = ()

    def present(self, words: Iterable[str]) -> bool:
        if not self.word:
            return True
        have = set(words)
        return self.word in have or any(w in have for w in self.near)

    def describe(self) -> str:
        return " / ".join((self.word, *self.near)) if self.word else ""


def head_concept(text: str, tw: TermWeights) -> HeadConcept:
    head = head_word(text, tw)
    if not head:
        return HeadConcept()
    first = re.split(r"[，,；;。:：、\s]", canonical(text).strip(), maxsplit=1)[0]
    longer = [w for w in terms(first) if w.endswith(head) and tw.weight(w) > 0]
    word = max(longer, key=lambda w: (len(w), w)) if longer else head
    parts = compound_parts().get(word)
    near = (parts[1],) if parts and tw.weight(parts[0]) == 0 and tw.weight(parts[1]) > 0 else ()
    return HeadConcept(word, near)


def families(words: Iterable[str]) -> list[str]:
    """Shared words grouped by containment: the longest word of each group (铁损 ⊂ 低铁损)."""
    ordered = sorted(set(words), key=lambda w: (-len(w), w))
    heads: list[str] = []
    for word in ordered:
        if not any(word in head for head in heads):
            heads.append(word)
    return heads


@dataclass
class _Vector:
    weights: dict[str, float]
    norm: float

    @classmethod
    def of(cls, words: Iterable[str], tw: TermWeights, top: int | None = None) -> _Vector:
        weights = tw.vector(set(words))
        if top is not None and len(weights) > top:
            weights = dict(sorted(weights.items(), key=lambda kv: -kv[1])[:top])
        norm = float(np.sqrt(sum(v * v for v in weights.values())))
        return cls(weights, norm)

    def cosine(self, other: _Vector) -> float:
        if not self.norm or not other.norm:
            return 0.0
        small, large = (self, other) if len(self.weights) < len(other.weights) else (other, self)
        dot = sum(v * large.weights[w] for w, v in small.weights.items() if w in large.weights)
        return dot / (self.norm * other.norm)


class _Background:
    """What calibration needs of the background documents, built once and grown as needed:
    their term weights, their vectors and the sampled members of each field. None of it depends
    on a profile, so every screen over the same background (every on-demand screening of a
    process) shares one. The calibration matrices' vocabulary stays a screen's own: its column
    order fixes the order of the sums, so a screen's null scores are exactly those it had when
    it built everything itself."""

    def __init__(self, stored: Sequence[tuple[str, Sequence[str]]]) -> None:
        self.weights = TermWeights.build(text for text, _ in stored)
        self.documents = list(packaged_background()) + [(t, tuple(i)) for t, i in stored]
        self._vectors: dict[int, _Vector] = {}
        self._field_members: dict[tuple[Field, int], tuple[list[int], list[int], float]] = {}
        self._by_prefix: dict[str, list[int]] | None = None
        #: sample size -> the shared random sample outside every field
        self._everyone: dict[int, list[int]] = {}
        #: screens of the web console run in threads: sampling a field is serialised
        self._lock = threading.RLock()

    @classmethod
    def of(cls, stored: Sequence[tuple[str, Sequence[str]]]) -> _Background:
        """The process's packaged background when nothing is stored, else a new one."""
        return _packaged_state() if not stored else cls(stored)

    def vector(self, index: int) -> _Vector:
        vector = self._vectors.get(index)
        if vector is None:
            vector = _Vector.of(_background_terms(self.documents[index][0]), self.weights)
            self._vectors[index] = vector
        return vector

    def _prefix_index(self) -> dict[str, list[int]]:
        """Every prefix of every background IPC symbol -> background indices (built once)."""
        if self._by_prefix is None:
            index: dict[str, set[int]] = {}
            for i, (_, ipc) in enumerate(self.documents):
                for sym in ipc:
                    for end in range(1, len(sym) + 1):
                        index.setdefault(sym[:end], set()).add(i)
            self._by_prefix = {k: sorted(v) for k, v in index.items()}
        return self._by_prefix

    def close_members(self, f: Field, sample: int) -> tuple[list[int], float]:
        """Sampled background indices with an IPC of the subscription itself or of its own
        patents' main groups, and their share (empty when the subscription states none)."""
        key = (f, -sample)
        cached = self._field_members.get(key)
        if cached is not None:
            return cached[0], cached[2]
        with self._lock:
            members: set[int] = set()
            by_prefix = self._prefix_index()
            for prefix in (*f.ipc, *f.own_ipc):
                members.update(by_prefix.get(prefix, ()))
            rng = random.Random(_seed("close", f.ipc, f.own_ipc))
            chosen = sorted(members)
            picked = rng.sample(chosen, min(sample // 2, len(chosen)))
            cached = (picked, [], len(chosen) / max(1, len(self.documents)))
            self._field_members[key] = cached
        return cached[0], cached[2]

    def members(self, f: Field, sample: int) -> tuple[list[int], list[int], float]:
        """Sampled background indices in and outside the field, and the field's share."""
        key = (f, sample)
        cached = self._field_members.get(key)
        if cached is not None:
            return cached
        with self._lock:
            if f.stated:
                by_prefix = self._prefix_index()
                members: set[int] = set()
                for prefix in f.ipc_prefixes:
                    members.update(by_prefix.get(prefix, ()))
            else:
                members = set(range(len(self.documents)))
            inside = sorted(members)
            rng = random.Random(_seed(sorted(f.sectors), sorted(f.subfields), f.ipc, f.own_ipc))
            # outside the field: one shared random sample (tokenised once for every field)
            everyone = self._everyone.get(sample)
            if everyone is None:
                everyone = self._everyone[sample] = random.Random(0).sample(
                    range(len(self.documents)), min(2 * sample, len(self.documents))
                )
            outside = [i for i in everyone if i not in members][:sample]
            cached = (
                rng.sample(inside, min(sample, len(inside))),
                outside,
                len(inside) / max(1, len(self.documents)),
            )
            self._field_members[key] = cached
        return cached


@cache
def _packaged_state() -> _Background:
    return _Background(())


class SimilarityScreen:
    """Profiles fitted against a real background; :meth:`screen` finds the hits of documents."""

    def __init__(
        self,
        profiles: Sequence[Profile],
        stored: Sequence[tuple[str, Sequence[str]]] = (),
        *,
        weekly_volume: int | None = None,
        false_alerts_per_week: float = 1.0,
        outside_factor: float = 10.0,
        max_terms: int = 12,
        pseudo_profiles: int = 60,
        sample: int = 1500,
        floor: float = 0.08,
        head_boost: float = 2.0,
        require_head: bool = True,
        close_budget: float = 0.5,
        seed: int = 0,
    ) -> None:
        """``stored``: (text, IPC) of stored documents, added to the packaged background."""
        self.profiles = [p for p in profiles if p.text.strip()]
        #: the background's state (weights, vectors, samples), shared by every screen of the
        #: process over the packaged background alone (on-demand screening builds one per query)
        self._shared = _Background.of(stored)
        self.weights = self._shared.weights
        #: documents per week in the store (0: unknown) and the volume calibrated for
        self.store_weekly_volume = weekly_volume or 0
        self.weekly_volume = max(self.store_weekly_volume, REFERENCE_WEEKLY_VOLUME)
        self.false_alerts_per_week = false_alerts_per_week
        self.outside_factor = outside_factor
        self.floor = floor
        self._background = self._shared.documents
        self._vocab: dict[str, int] = {}
        self.head_boost = head_boost
        self.require_head = require_head
        self.close_budget = close_budget
        self.heads = [
            head_concept(p.text, self.weights) if require_head else HeadConcept()
            for p in self.profiles
        ]
        self.vectors = [
            self._profile_vector(p.text, max_terms, h)
            for p, h in zip(self.profiles, self.heads, strict=True)
        ]
        self.calibrations = [
            self._calibrate(p, v, h, pseudo_profiles, sample)
            for p, v, h in zip(self.profiles, self.vectors, self.heads, strict=True)
        ]
        self._build_vocabulary()

    def _profile_vector(self, text: str, top: int, concept: HeadConcept) -> _Vector:
        """The profile's most distinctive words; the words naming the product weigh more.

        A product description starts with what the product is ("光伏组件接线盒，..."); a
        Chinese noun phrase ends with its head (接线盒), so the head concept of the first clause
        (:func:`head_concept`: LED封装 in "大功率LED芯片封装") and its parts are boosted by
        ``head_boost`` (the head word alone without ``require_head``). The head concept is
        always one of the profile's words, even when it is not among the heaviest ``top``.
        """
        words = terms(text)
        vector = _Vector.of(words, self.weights, top)
        head = concept.word or head_word(text, self.weights)
        if concept.word and concept.word not in vector.weights:
            weights = dict(vector.weights)
            weights.update(self.weights.vector([concept.word]))
            vector = _Vector(weights, float(np.sqrt(sum(v * v for v in weights.values()))))
        if head and self.head_boost != 1.0:
            weights = {
                w: v * (self.head_boost if w in head else 1.0) for w, v in vector.weights.items()
            }
            vector = _Vector(weights, float(np.sqrt(sum(v * v for v in weights.values()))))
        return vector

    # -- calibration ------------------------------------------------------------------------

    def _bg(self, index: int) -> _Vector:
        return self._shared.vector(index)

    def _members(self, f: Field, sample: int) -> tuple[list[int], list[int], float]:
        """Sampled background indices in and outside the field, and the field's share."""
        return self._shared.members(f, sample)

    def _matrix(self, vectors: Sequence[_Vector]) -> sparse.csr_matrix:
        """Unit-length rows over this screen's vocabulary (grown as needed)."""
        rows: list[int] = []
        cols: list[int] = []
        data: list[float] = []
        for r, vector in enumerate(vectors):
            if not vector.norm:
                continue
            for word, weight in vector.weights.items():
                col = self._vocab.setdefault(word, len(self._vocab))
                rows.append(r)
                cols.append(col)
                data.append(weight / vector.norm)
        return sparse.csr_matrix((data, (rows, cols)), shape=(len(vectors), 1 << 22))

    def _null(self, pseudos: sparse.csr_matrix, docs: Sequence[int]) -> np.ndarray:
        if not docs or not pseudos.shape[0]:
            return np.array([], dtype=float)
        matrix = self._matrix([self._bg(i) for i in docs])
        return np.sort((pseudos @ matrix.T).toarray().ravel())

    def _calibrate(
        self, profile: Profile, vector: _Vector, concept: HeadConcept, count: int, sample: int
    ) -> Calibration:
        inside, outside, share_in = self._members(profile.field, sample)
        builders, scored = inside[: len(inside) // 2], inside[len(inside) // 2 :]
        size = max(1, len(vector.weights))
        pseudos: list[_Vector] = []
        rng = random.Random(_seed(profile.text))
        for _ in range(count if builders else 0):
            words: dict[str, float] = {}
            for _attempt in range(200):
                words.update(self._bg(rng.choice(builders)).weights)
                if len(words) >= size:
                    break
            norm = float(np.sqrt(sum(v * v for v in words.values())))
            pseudos.append(_Vector(words, norm))
        pseudo_matrix = self._matrix(pseudos)
        null_in = self._null(pseudo_matrix, scored)
        null_out = self._null(pseudo_matrix, outside)
        close, share_close = self._shared.close_members(profile.field, sample)
        null_close = self._null(pseudo_matrix, close)
        volume_in = self.weekly_volume * share_in
        volume_out = self.weekly_volume * (1 - share_in)
        expected_in = self.false_alerts_per_week * (1 - 1 / (1 + self.outside_factor))
        expected_out = self.false_alerts_per_week / (1 + self.outside_factor)
        t_in, q_in = self._threshold(null_in, expected_in, volume_in)
        # the subscription's own IPC: a budget of its own (close_budget times the field's) over
        # its much smaller volume; never a higher bar than the field's
        volume_close = self.weekly_volume * share_close
        t_close, q_close = t_in, q_in
        if len(null_close) and self.close_budget > 0:
            t_close, q_close = self._threshold(
                null_close, expected_in * self.close_budget, volume_close
            )
            if t_close > t_in:
                t_close, q_close = t_in, 100.0 * (1.0 - _tail(null_close, t_in))
        t_out, q_out = self._threshold(null_out, expected_out, volume_out)
        t_out = max(t_out, t_in)
        return Calibration(
            threshold_close=t_close,
            percentile_close=q_close,
            expected_close=volume_close * _tail(null_close, t_close),
            null_close=null_close,
            threshold_in=t_in,
            threshold_out=t_out,
            percentile_in=q_in,
            percentile_out=q_out,
            expected_in=volume_in * _tail(null_in, t_in),
            expected_out=volume_out * _tail(null_out, t_out),
            null_in=null_in,
            null_out=null_out,
        )

    def _threshold(self, null: np.ndarray, expected: float, volume: float) -> tuple[float, float]:
        """The score above which ``expected`` of ``volume`` random documents per week fall."""
        if volume <= 0 or not len(null):
            return max(self.floor, 1.0), 100.0
        q = max(0.0, 1.0 - expected / volume)
        rank = min(len(null) - 1, int(np.ceil(q * len(null))))
        threshold = float(null[rank])
        if rank == len(null) - 1 and q * len(null) > len(null) - 1:
            threshold += 1e-6  # beyond the resolution of the sample: above every random pair
        return max(self.floor, threshold), 100.0 * q

    # -- screening ----------------------------------------------------------------------------

    @property
    def empty(self) -> bool:
        return not self.profiles

    def _build_vocabulary(self) -> None:
        """An automaton over the distinctive profile words: every hit shares one (the gate of
        :meth:`_hit` needs a distinctive word family), and a shared word is a substring of the
        document's text, so documents without one are skipped before segmentation."""
        self._vocabulary = ahocorasick.Automaton()
        owners: dict[str, set[int]] = {}
        parts = compound_parts()
        for row, vector in enumerate(self.vectors):
            for word in vector.weights:
                if self.weights.share(word) <= DISTINCTIVE_SHARE:
                    # a compound may be written with its parts apart: both are in the text
                    key = min(parts[word], key=self.weights.frequency) if word in parts else word
                    owners.setdefault(key, set()).add(row)
        for word, rows in owners.items():
            self._vocabulary.add_word(word, frozenset(rows))
        if owners:
            self._vocabulary.make_automaton()

    def _candidates(self, text: str) -> set[int]:
        if not len(self._vocabulary):
            return set()
        found: set[int] = set()
        for _, rows in self._vocabulary.iter(canonical(text)):
            found |= rows
        return found

    def screen(self, docs: Sequence[MatchDoc]) -> list[dict[str, SimilarityHit]]:
        """For each document: subscription key -> its best hit (highest score over threshold)."""
        results: list[dict[str, SimilarityHit]] = [{} for _ in docs]
        if self.empty:
            return results
        for i, doc in enumerate(docs):
            text = " ".join((doc.title, doc.abstract, doc.claims))
            rows = self._candidates(text)
            if not rows:
                continue
            vector = _Vector.of(terms(text), self.weights)
            for row in sorted(rows):
                hit = self._hit(row, doc, vector)
                if hit is None:
                    continue
                key = self.profiles[row].key
                best = results[i].get(key)
                if best is None or hit.score > best.score:
                    results[i][key] = hit
        return results

    def _hit(self, row: int, doc: MatchDoc, vector: _Vector) -> SimilarityHit | None:
        profile, pv, cal = self.profiles[row], self.vectors[row], self.calibrations[row]
        shared = {w: pv.weights[w] for w in vector.weights if w in pv.weights}
        if not shared:
            return None
        heads = families(shared)
        distinctive = [h for h in heads if self.weights.share(h) <= DISTINCTIVE_SHARE]
        rare_compound = any(
            len(h) >= 3 and self.weights.share(h) <= RARE_SHARE for h in distinctive
        )
        if not self.heads[row].present(vector.weights):
            return None  # the document does not name what the product is
        reasons = profile.field.check(doc.ipc, doc.sectors, doc.subfields)
        in_field = bool(reasons)
        close = any(r.startswith(("subscription IPC", "own patents' IPC")) for r in reasons)
        if in_field:
            enough = (len(heads) >= 2 and bool(distinctive)) or rare_compound
            if close and len(cal.null_close):
                threshold, null, q = cal.threshold_close, cal.null_close, cal.percentile_close
                expected, bar = cal.expected_close, "own IPC"
            else:
                threshold, null, q = cal.threshold_in, cal.null_in, cal.percentile_in
                expected, bar = cal.expected_in, "field"
        else:
            enough = len(distinctive) >= 2
            bar = "outside the field"
            threshold, null, q = cal.threshold_out, cal.null_out, cal.percentile_out
            expected = cal.expected_out
        score = vector.cosine(pv)
        if not enough or score < threshold:
            return None
        # how strong a match is, is judged against the field's bar even where the own IPC's
        # lower bar let it through: the own IPC decides whether it alerts, not how loudly
        reference = max(threshold, cal.threshold_in) if in_field else threshold
        severity, why = severity_of(doc, score, reference, in_field, len(distinctive))
        return SimilarityHit(
            score=score,
            against=profile.label,
            terms=tuple(sorted(shared.items(), key=lambda kv: (-kv[1], kv[0]))),
            in_field=in_field,
            field_reasons=tuple(reasons),
            threshold=threshold,
            threshold_percentile=q,
            percentile=100.0 * (1.0 - _tail(null, score)),
            expected_weekly=expected,
            severity=severity,
            severity_reason=why,
            bar=bar,
            head_concept=self.heads[row].describe(),
        )

    def report(self) -> list[dict[str, Any]]:
        """Per profile: thresholds, percentiles and expected weekly false alerts (in and outside
        the field at the calibration volume, and in all at the store's own weekly volume)."""
        scale = self.store_weekly_volume / self.weekly_volume
        return [
            {
                "subscription": p.key,
                "profile": p.label,
                **c.summary(),
                "weekly_volume": self.weekly_volume,
                "store_weekly_volume": self.store_weekly_volume,
                "expected_weekly_at_store_volume": round(
                    (c.expected_in + c.expected_out) * scale, 3
                ),
            }
            for p, c in zip(self.profiles, self.calibrations, strict=True)
        ]


@lru_cache(maxsize=50_000)
def _background_terms(title: str) -> frozenset[str]:
    """Words of a background title (the same titles calibrate every screen of a process)."""
    return frozenset(terms(title))


def _seed(*parts: object) -> int:
    """A seed that is the same in every process (``hash`` of a str is not)."""
    return zlib.crc32(repr(parts).encode("utf-8"))


def _tail(null: np.ndarray, score: float) -> float:
    """Share of the null distribution at or above ``score``."""
    if not len(null):
        return 0.0
    return float(len(null) - np.searchsorted(null, score, side="left")) / len(null)


def severity_of(
    doc: MatchDoc, score: float, threshold: float, in_field: bool, distinctive: int
) -> tuple[str, str]:
    """Severity from the evidence: legal status, strength of the match, field agreement."""
    granted = doc.kind_letter in ("B", "U")
    lapsed = any(e.code in LAPSE_CODES for e in doc.events)
    strong = score >= 1.5 * threshold and distinctive >= 1
    if not in_field:
        return "low", "outside the subscription's field"
    if not strong:
        return "low", "weak match (score close to the threshold)"
    if granted and not lapsed:
        if score >= 2 * threshold and distinctive >= 3:
            return "critical", "granted patent in force, very strong match in the field"
        return "high", "granted patent in force, strong match in the field"
    if lapsed:
        return "medium", "strong match in the field, but the patent is no longer in force"
    return "medium", "strong match in the field, application (A) not yet granted"


def profiles_for(
    subscriptions: Iterable[Any],
    own: Mapping[str, tuple[str, Sequence[str]]],
) -> list[Profile]:
    """One profile per product description and own patent of each subscription.

    ``subscriptions`` are :class:`rules.engine.CompiledSubscription`; ``own`` maps an own patent
    number to its (text, IPC symbols) as stored.
    """
    out: list[Profile] = []
    for sub in subscriptions:
        scope = sub.spec.scope
        own_ipc = tuple(
            dict.fromkeys(main_group(s) for n in scope.own_patents for s in own.get(n, ("", ()))[1])
        )
        f = Field(
            sectors=frozenset(scope.sectors),
            subfields=frozenset(scope.subfields),
            ipc=tuple(scope.ipc),
            own_ipc=own_ipc,
            min_confidence=scope.min_confidence,
        )
        for number in scope.own_patents:
            text = own.get(number, ("", ()))[0]
            if text.strip():
                out.append(Profile(sub.key, f"own patent {number}", text, f))
        for i, product in enumerate(scope.products):
            if product.strip():
                out.append(Profile(sub.key, f"product {i + 1}: {product[:40]}", product, f))
    return out

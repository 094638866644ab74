"""Classification with a loaded artifact: features, calibrated scores, sub-fields, explanations.

Scores per label are calibrated probabilities. Without IPC (or with ``text_only``) they come from
the text model alone; with IPC they come from a logistic fusion of the text model's decision and
the taxonomy's IPC evidence, learnt on a held-out slice of the gazette.
"""

from __future__ import annotations

import gc
import os
import re
import threading
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cache, partial
from itertools import chain
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import numpy.typing as npt
from scipy import sparse

from models.artifact import DEFAULT_VERSION, PACKAGED_DIR, ModelParams, load_params
from models.ngrams import NgramTable
from models.subfields import KeywordMatcher, recalibrate, subfield_columns, subfield_decision
from models.text import (
    analyze_with_words,
    document_text,
    has_latin,
    latin_tokens,
    normalize_text,
)
from models.workers import WorkerPool
from warning.errors import ModelNotFound
from warning.ipc import matches_prefix, normalize_ipc, normalize_ipc_list
from warning.logging import get_logger
from warning.taxonomy import OTHER, Taxonomy, load_taxonomy

log = get_logger(__name__)

#: v1/v2 artifacts: weight of a sub-field keyword found in the text (IPC evidence counts 1.0);
#: v3+ calibrate sub-field scores instead (models/subfields.py)
KEYWORD_WEIGHT = 0.9
#: explanation size per assigned label
TOP_TERMS = 5


@dataclass
class Classification:
    number: str
    sectors: list[str]
    scores: dict[str, float]
    subfields: list[dict[str, Any]] = field(default_factory=list)
    explanation: dict[str, dict[str, list[str]]] = field(default_factory=dict)
    model_version: str = ""

    def to_dict(self) -> dict[str, Any]:
        """A fresh JSON-ready dict (what `ipwarn classify` prints per line).

        Written out rather than ``dataclasses.asdict``: asdict deep-copies every value through
        generic recursion and took more time than classifying (~0.2 ms a document). The copies
        here are just as independent (results of identical inputs share their lists).
        """
        return {
            "number": self.number,
            "sectors": list(self.sectors),
            "scores": dict(self.scores),
            "subfields": [dict(s) for s in self.subfields],
            "explanation": {
                label: {kind: list(items) for kind, items in parts.items()}
                for label, parts in self.explanation.items()
            },
            "model_version": self.model_version,
        }


class _Doc(NamedTuple):
    number: str
    text: str
    ipc: tuple[str, ...]


def _as_doc(record: Mapping[str, Any] | Any, text_only: bool) -> _Doc:
    """Accept a dict (JSON line) or a DocumentRecord / ORM Document (attribute access)."""
    if type(record) is dict or isinstance(record, Mapping):
        get = record.get
    else:
        get = lambda k, d=None: getattr(record, k, d)  # noqa: E731
    ipc = () if text_only else _normalized(get("ipc") or ())
    title = get("title")
    title = title if type(title) is str else str(title or "")
    abstract, claims = get("abstract"), get("claims")
    if abstract or claims:
        text = document_text(title, str(abstract or ""), str(claims or ""))
    else:
        text = title
    number = get("number")
    return _Doc(number if type(number) is str else str(number or ""), text, ipc)


_NORMALIZED: dict[str, str | None] = {}


def _normalized(raw: str | Sequence[str]) -> tuple[str, ...]:
    """:func:`normalize_ipc_list`, memoised per symbol (batches repeat symbols a lot)."""
    if isinstance(raw, str):
        return tuple(normalize_ipc_list(raw))
    if type(raw) in (list, tuple) and len(raw) == 1:  # the common case, no de-duplication
        value = raw[0]
        if value not in _NORMALIZED:
            if len(_NORMALIZED) > 100_000:
                _NORMALIZED.clear()
            _NORMALIZED[value] = normalize_ipc(value) if value and value.strip() else None
        only = _NORMALIZED[value]
        return (only,) if only else ()
    out: dict[str, None] = {}
    for value in raw:
        if value not in _NORMALIZED:
            if len(_NORMALIZED) > 100_000:
                _NORMALIZED.clear()
            _NORMALIZED[value] = normalize_ipc(value) if value and value.strip() else None
        symbol = _NORMALIZED[value]
        if symbol:
            out.setdefault(symbol, None)
    return tuple(out)


@contextmanager
def _gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while a batch builds its result objects.

    A batch allocates a few hundred thousand small dicts and lists, all kept alive, and none
    in a reference cycle; with the collector on, those allocations trigger repeated collections
    (full ones included, scanning every tracked object of the process) that took about as long
    as the classification itself. Reference counting still frees everything as usual. The
    collector is re-enabled only if it was on, so nested or concurrent batches are harmless.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _sigmoid(x: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    return 1.0 / (1.0 + np.exp(-np.clip(x, -40, 40)))


#: per distinct input: labels, rounded scores (label order), (sector, sub-field, score), and
#: per label (label, explanation terms, taxonomy IPC prefixes)
_Parts = tuple[
    list[str],
    list[float],
    list[tuple[str, str, float]],
    list[tuple[str, Sequence[str], Sequence[str]]],
]

#: smaller batches are classified in-process even when workers > 1 (forking costs more)
PARALLEL_MIN_DOCS = 2000


class Classifier:
    """A loaded model version. Thread-safe for reading; cheap to call repeatedly."""

    def __init__(self, params: ModelParams, taxonomy: Taxonomy | None = None) -> None:
        self.params = params
        self.taxonomy = taxonomy or load_taxonomy()
        self.labels = list(params.labels)
        self.sector_ids = [label for label in self.labels if label != OTHER]
        self._terms: npt.NDArray[np.object_] | None = None
        self._ngrams: NgramTable | None = None
        self._subfield_order = {
            (sf.sector, sf.id): i for i, sf in enumerate(self.taxonomy.subfields)
        }
        self._symbol_cache: dict[str, tuple[tuple[tuple[str, str], ...], frozenset[str]]] = {}
        self._sector_prefixes = tuple(p for sector in self.taxonomy.sectors for p in sector.ipc)
        self._subfield_prefixes = tuple(p for sf in self.taxonomy.subfields for p in sf.ipc)
        self._sector_index = [self.labels.index(s) for s in self.sector_ids]
        self._label_index = {label: j for j, label in enumerate(self.labels)}
        self._label_columns = self._columns_per_label(params.columns)
        self._keywords = KeywordMatcher(self.taxonomy)
        self._subfield_columns: list[npt.NDArray[np.int64]] | None = None
        self._subfield_index: dict[str, int] = {}
        self._sector_subfields: dict[str, list[tuple[str, int]]] = {}
        self._subfield_sector_label = np.zeros(0, dtype=np.int64)
        if params.subfields is not None:
            self._check_subfield_head()
        self._pool: WorkerPool | None = None
        self._pool_lock = threading.Lock()

    def _worker_pool(self, size: int) -> WorkerPool:
        """The persistent workers (forked on first use, after the n-gram table is built so that
        none builds its own); re-forked if one died, the size changed or this is another
        process."""
        if self._pool is None or not self._pool.usable or self._pool.size != size:
            self._close_pool()
            self.ngram_table()
            self._pool = WorkerPool(partial(_serve_share, self), size)
        return self._pool

    def _close_pool(self) -> None:
        if self._pool is not None:
            self._pool.close()
            self._pool = None

    def _check_subfield_head(self) -> None:
        """A v3+ head must be for this taxonomy's sub-fields, on a hierarchical model."""
        params = self.params
        expected = [sf.qualified for sf in self.taxonomy.subfields]
        if params.subfields != expected or params.columns is None:
            raise ModelNotFound(
                f"classifier {params.version}: its sub-fields {params.subfields} are not the "
                f"taxonomy's {expected}; train a version for this taxonomy (ipwarn model train)"
            )
        self._subfield_columns = subfield_columns(self.taxonomy, params.columns)
        self._subfield_index = {q: k for k, q in enumerate(expected)}
        self._sector_subfields = {
            sector.id: [(sf.id, self._subfield_index[sf.qualified]) for sf in sector.subfields]
            for sector in self.taxonomy.sectors
        }
        self._subfield_sector_label = np.array(
            [self._label_index[sf.sector] for sf in self.taxonomy.subfields], dtype=np.int64
        )

    def attach_subfield_head(
        self,
        platt: npt.NDArray[np.float64],
        thresholds: npt.NDArray[np.float64],
        recalibration: npt.NDArray[np.float64],
    ) -> None:
        """Training: switch this model to calibrated sub-field scores (taxonomy order)."""
        self.params.subfields = [sf.qualified for sf in self.taxonomy.subfields]
        self.params.subfield_platt = platt
        self.params.subfield_thresholds = thresholds
        self.params.subfield_recalibration = recalibration
        self._check_subfield_head()

    @property
    def version(self) -> str:
        return self.params.version

    def ngram_table(self) -> NgramTable:
        """The vectorised Chinese n-gram look-up, built on first use (about 0.1 s)."""
        if self._ngrams is None:
            self._ngrams = NgramTable(self.params.vocabulary)
        return self._ngrams

    def _feature_pairs(
        self, normalized: Sequence[str]
    ) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
        """(row, feature index) of every feature occurrence; unknown features may be -1."""
        vocab_get = self.params.vocabulary.get
        if self.params.word_features:
            id_lists = [[vocab_get(t, -1) for t in analyze_with_words(text)] for text in normalized]
            lengths = np.fromiter(map(len, id_lists), dtype=np.int64, count=len(id_lists))
            total = int(lengths.sum())
            ids = np.fromiter(chain.from_iterable(id_lists), dtype=np.int64, count=total)
            return np.repeat(np.arange(len(id_lists), dtype=np.int64), lengths), ids
        rows, ids = self.ngram_table().lookup(normalized)
        latin = [i for i, text in enumerate(normalized) if has_latin(text)]
        if not latin:
            return rows, ids
        latin_ids = [[vocab_get(t, -1) for t in latin_tokens(normalized[i])] for i in latin]
        lengths = np.fromiter(map(len, latin_ids), dtype=np.int64, count=len(latin))
        extra = np.fromiter(
            chain.from_iterable(latin_ids), dtype=np.int64, count=int(lengths.sum())
        )
        extra_rows = np.repeat(np.array(latin, dtype=np.int64), lengths)
        return np.concatenate((rows, extra_rows)), np.concatenate((ids, extra))

    # --- features ---------------------------------------------------------------------------

    def features(self, texts: Sequence[str]) -> sparse.csr_matrix:
        """TF-IDF rows (sublinear tf, L2-normalised), exactly as the training vectorizer made them."""
        return self._features_normalized([normalize_text(text) for text in texts])

    def _features_normalized(self, normalized: Sequence[str]) -> sparse.csr_matrix:
        """:meth:`features` of already normalised texts.

        The feature indices of the whole batch are found at once (numpy n-gram look-up for
        Chinese, dict look-ups for English words); counting, weighting and normalisation run
        once, vectorised, over the whole batch.
        """
        n_docs, n_features = len(normalized), len(self.params.idf)
        rows, ids = self._feature_pairs(normalized)
        known = ids >= 0
        keys, counts = np.unique(rows[known] * n_features + ids[known], return_counts=True)
        row_of, col_of = np.divmod(keys, n_features)
        values = (1.0 + np.log(counts)) * self.params.idf[col_of]
        norms = np.sqrt(np.bincount(row_of, weights=values * values, minlength=n_docs))
        values /= norms[row_of]
        indptr = np.concatenate(([0], np.cumsum(np.bincount(row_of, minlength=n_docs))))
        return sparse.csr_matrix((values, col_of, indptr), shape=(n_docs, n_features))

    def _columns_per_label(self, columns: list[str] | None) -> list[npt.NDArray[np.int64]] | None:
        """Hierarchical model: the ``coef`` columns that belong to each label (None for v1)."""
        if columns is None:
            return None
        owner = [name.partition(":")[0] for name in columns]
        return [
            np.array([k for k, o in enumerate(owner) if o == label], dtype=np.int64)
            for label in self.labels
        ]

    def column_scores(self, matrix: sparse.csr_matrix) -> npt.NDArray[np.float64]:
        """The linear model's raw output, one column per ``coef`` column."""
        coef = self.params.coef
        return np.asarray(matrix @ coef, dtype=np.float64) + self.params.intercept

    def label_decision(
        self, scores: npt.NDArray[np.float64]
    ) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.int64]]:
        """(decision value per label, the ``coef`` column that decided it) from column scores.

        v1: the columns are the labels. Hierarchical: a sector's decision is its best column (the
        whole sector or one of its IPC classes) minus ``competition`` times the best "other"
        column (an IPC section outside every sector), so a title that looks strongly like, say,
        H04 telecom needs more to count as optoelectronics; ``other`` is its best column minus
        the best sector column.
        """
        n_docs = scores.shape[0]
        if self._label_columns is None:
            return scores, np.tile(np.arange(len(self.labels), dtype=np.int64), (n_docs, 1))
        decision = np.full((n_docs, len(self.labels)), -10.0)
        chosen = np.zeros((n_docs, len(self.labels)), dtype=np.int64)
        best: dict[int, npt.NDArray[np.float64]] = {}
        for j, cols in enumerate(self._label_columns):
            if len(cols):
                arg = scores[:, cols].argmax(axis=1)
                chosen[:, j] = cols[arg]
                best[j] = scores[np.arange(n_docs), chosen[:, j]]
        other = self._label_index[OTHER]
        best_other = best.get(other, np.zeros(n_docs))
        sector_best = [best[j] for j in self._sector_index if j in best]
        best_sector = np.max(sector_best, axis=0) if sector_best else np.zeros(n_docs)
        for j in self._sector_index:
            if j in best:
                decision[:, j] = best[j] - self.params.competition * best_other
        if other in best:
            decision[:, other] = best_other - best_sector
        return decision, chosen

    def decision(self, matrix: sparse.csr_matrix) -> npt.NDArray[np.float64]:
        return self.label_decision(self.column_scores(matrix))[0]

    def text_probabilities(self, decision: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        platt = self.params.platt
        return _sigmoid(-(platt[:, 0] * decision + platt[:, 1]))

    def _symbol_hits(self, symbol: str) -> tuple[tuple[tuple[str, str], ...], frozenset[str]]:
        """(sector, prefix) pairs and qualified sub-fields one symbol falls under, cached."""
        cached = self._symbol_cache.get(symbol)
        if cached is None:
            # one C-level startswith against every prefix first: most symbols match none
            sectors = (
                tuple(
                    (sector, prefix)
                    for sector, prefixes in self.taxonomy.sectors_for_ipc([symbol]).items()
                    for prefix in prefixes
                )
                if symbol.startswith(self._sector_prefixes)
                else ()
            )
            subfields = (
                frozenset(
                    sf.qualified
                    for sf in self.taxonomy.subfields
                    if sf.ipc and matches_prefix(symbol, sf.ipc)
                )
                if symbol.startswith(self._subfield_prefixes)
                else frozenset()
            )
            if len(self._symbol_cache) > 100_000:
                self._symbol_cache.clear()
            cached = self._symbol_cache[symbol] = (sectors, subfields)
        return cached

    def ipc_hits(self, ipc: Sequence[str]) -> dict[str, list[str]]:
        """Sector -> the taxonomy IPC prefixes these symbols fall under (empty: none)."""
        hits: dict[str, list[str]] = {}
        for symbol in ipc:
            for sector, prefix in self._symbol_hits(symbol)[0]:
                prefixes = hits.setdefault(sector, [])
                if prefix not in prefixes:
                    prefixes.append(prefix)
        return hits

    def evidence_row(self, hits: dict[str, list[str]]) -> list[float]:
        """1/0 per label: is the document in that label by IPC (``other``: in no sector)?"""
        return [
            (0.0 if hits else 1.0) if label == OTHER else (1.0 if label in hits else 0.0)
            for label in self.labels
        ]

    def ipc_evidence(
        self, ipc: Sequence[str]
    ) -> tuple[npt.NDArray[np.float64], dict[str, list[str]]]:
        hits = self.ipc_hits(ipc)
        return np.array(self.evidence_row(hits)), hits

    def fused_probabilities(
        self, decision: npt.NDArray[np.float64], evidence: npt.NDArray[np.float64]
    ) -> npt.NDArray[np.float64]:
        fusion = self.params.fusion
        return _sigmoid(fusion[:, 0] * decision + fusion[:, 1] * evidence + fusion[:, 2])

    # --- classification ---------------------------------------------------------------------

    def classify(
        self,
        records: Iterable[Mapping[str, Any] | Any],
        text_only: bool = False,
        workers: int = 1,
        explain: bool = True,
    ) -> list[Classification]:
        """Classify records (dicts, DocumentRecords or stored Documents), in order.

        ``workers`` > 1 splits big batches over forked processes; ``explain=False`` skips the
        explanation terms (the pipeline stage stores no explanation) and saves about a fifth.
        """
        with _gc_paused():
            if workers > 1:
                records = records if isinstance(records, Sequence) else list(records)
                if len(records) >= PARALLEL_MIN_DOCS:
                    return _classify_parallel(self, records, text_only, workers, explain)
            return self._build(*self._classify_records(records, text_only, explain))

    def _classify_docs(self, docs: Sequence[_Doc], explain: bool = True) -> list[Classification]:
        """Classify already converted documents (one batch, this process)."""
        numbers, inverse, parts = self._classify_batch(docs, explain)
        return self._build(numbers, inverse, parts)

    def _classify_records(
        self, records: Iterable[Mapping[str, Any] | Any], text_only: bool, explain: bool
    ) -> tuple[list[str], list[int], list[_Parts]]:
        return self._classify_batch([_as_doc(r, text_only) for r in records], explain)

    def _classify_batch(
        self, docs: Sequence[_Doc], explain: bool
    ) -> tuple[list[str], list[int], list[_Parts]]:
        """(numbers, distinct-input slot per document, outputs per distinct input).

        Identical (text, IPC) inputs have identical outputs, so each is computed once per batch
        (gazettes repeat titles such as "一种连接器"); :meth:`_build` still gives every document
        its own result objects. The outputs are plain tuples: cheap to pickle between processes.
        """
        slots: dict[tuple[str, tuple[str, ...]], int] = {}
        inverse = [slots.setdefault((doc.text, doc.ipc), len(slots)) for doc in docs]
        parts = self._classify_unique(list(slots), explain) if docs else []
        return [doc.number for doc in docs], inverse, parts

    def _build(
        self, numbers: Sequence[str], inverse: Sequence[int], parts: Sequence[_Parts]
    ) -> list[Classification]:
        """One fresh :class:`Classification` per document from the distinct inputs' outputs."""
        version, labels_all = self.version, self.labels
        results: list[Classification] = []
        append = results.append
        for number, slot in zip(numbers, inverse, strict=True):
            labels, scores, subfields, explanation = parts[slot]
            append(
                Classification(
                    number,
                    [*labels],
                    dict(zip(labels_all, scores, strict=True)),
                    [
                        {"sector": sector, "subfield": subfield, "score": score}
                        for sector, subfield, score in subfields
                    ],
                    {
                        label: {"terms": [*terms], "ipc": [*ipc]}
                        for label, terms, ipc in explanation
                    },
                    version,
                )
            )
        return results

    def _classify_unique(
        self, inputs: Sequence[tuple[str, tuple[str, ...]]], explain: bool
    ) -> list[_Parts]:
        """Per (text, IPC): labels, rounded scores, sub-fields, explanation terms, IPC hits."""
        n_docs = len(inputs)
        normalized = [normalize_text(text) for text, _ in inputs]
        matrix = self._features_normalized(normalized)
        scores = self.column_scores(matrix)
        decision, columns = self.label_decision(scores)
        probs = self.text_probabilities(decision)
        thresholds = np.tile(self.params.thresholds, (n_docs, 1))
        with_ipc = [i for i, (_, ipc) in enumerate(inputs) if ipc]
        no_hits: dict[str, list[str]] = {}
        hits: list[dict[str, list[str]]] = [no_hits] * n_docs
        if with_ipc:
            known: dict[tuple[str, ...], dict[str, list[str]]] = {}
            evidence = np.zeros((len(with_ipc), len(self.labels)), dtype=np.float64)
            other = self._label_index[OTHER]
            for row, i in enumerate(with_ipc):
                ipc = inputs[i][1]
                found = known.get(ipc)
                if found is None:
                    found = known[ipc] = self.ipc_hits(ipc)
                hits[i] = found
                if found:
                    for sector in found:
                        evidence[row, self._label_index[sector]] = 1.0
                else:
                    evidence[row, other] = 1.0
            probs[with_ipc] = self.fused_probabilities(decision[with_ipc], evidence)
            thresholds[with_ipc] = self.params.fusion_thresholds
        assigned_mask = probs >= thresholds
        assigned_mask[:, self._label_index[OTHER]] = False
        rounded_probs = np.round(probs, 4)
        rounded = rounded_probs.tolist()
        # text-only sub-field scores, only where they are used: a sector assigned and no IPC
        text_rows = np.flatnonzero(assigned_mask.any(axis=1))
        text_rows = text_rows[[not inputs[i][1] for i in text_rows.tolist()]]
        text_scores = self._subfield_text_scores(scores[text_rows], rounded_probs[text_rows])
        text_row: list[tuple[list[float], list[float]] | None] = [None] * n_docs
        if text_scores is not None:
            for j, i in enumerate(text_rows.tolist()):
                text_row[i] = (text_scores[0][j], text_scores[1][j])
        assigned: list[list[str]] = []
        for i, mask_row in enumerate(assigned_mask.tolist()):
            if not any(mask_row):  # most documents: no sector
                assigned.append([])
                continue
            chosen = [j for j in self._sector_index if mask_row[j]]
            chosen.sort(key=rounded[i].__getitem__, reverse=True)
            assigned.append([self.labels[j] for j in chosen])
        terms = self._top_terms(matrix, assigned_mask, columns) if explain else [no_hits] * n_docs
        other_only = [OTHER]
        parts: list[_Parts] = []
        for i, labels in enumerate(assigned):
            terms_i, hits_i = terms[i], hits[i]
            parts.append(
                (
                    labels or other_only,
                    rounded[i],
                    self._subfields(
                        normalized[i],
                        inputs[i][1],
                        labels,
                        rounded[i],
                        text_row[i],
                    )
                    if labels
                    else [],
                    [
                        (label, terms_i.get(label, ()), hits_i.get(label, ()))
                        for label in labels or other_only
                    ],
                )
            )
        return parts

    def keyword_subfields(self, sector: str, normalized: str) -> set[str]:
        """The sector's sub-fields whose seed keywords occur in the normalised text."""
        return self._keywords.subfields(sector, normalized)

    def subfield_text_probabilities(
        self, scores: npt.NDArray[np.float64]
    ) -> npt.NDArray[np.float64] | None:
        """v3+: per document and sub-field, the calibrated probability that its IPC would fall
        under the sub-field's prefixes, from the columns of those IPC classes (None before v3)."""
        if self._subfield_columns is None or self.params.subfield_platt is None:
            return None
        platt = self.params.subfield_platt
        decision = subfield_decision(scores, self._subfield_columns)
        return _sigmoid(-(platt[:, 0] * decision + platt[:, 1]))

    def _subfield_text_scores(
        self, scores: npt.NDArray[np.float64], rounded_probs: npt.NDArray[np.float64]
    ) -> tuple[list[list[float]], list[list[float]]] | None:
        """v3+, for text-only use: per document and sub-field, (score if a keyword hits, score
        from the text model or 0 below the sub-field's listing threshold), batch-vectorised.

        A keyword hit scores its sector's probability, the text model's probability is capped at
        it (the sub-field lies inside the sector); both recalibrated (models/subfields.py).
        """
        text_probs = self.subfield_text_probabilities(scores)
        recalibration, thresholds = (
            self.params.subfield_recalibration,
            self.params.subfield_thresholds,
        )
        if text_probs is None or recalibration is None or thresholds is None:
            return None
        sector = rounded_probs[:, self._subfield_sector_label]
        hit = np.round(recalibrate(sector, True, recalibration), 4)
        text = np.round(recalibrate(np.minimum(text_probs, sector), False, recalibration), 4)
        text[text < thresholds] = 0.0
        return hit.tolist(), text.tolist()

    def _subfields(
        self,
        text: str,
        ipc: tuple[str, ...],
        sectors: list[str],
        rounded: list[float],
        text_row: tuple[list[float], list[float]] | None = None,
    ) -> list[tuple[str, str, float]]:
        """The assigned sectors' sub-fields with their scores, highest first.

        ``text`` is normalised; ``rounded`` are the label scores in label order; ``text_row``
        the document's :meth:`_subfield_text_scores` rows (v3+ without IPC only).

        v1/v2: the sector's score x 1.0 for an IPC hit, x :data:`KEYWORD_WEIGHT` for a keyword.
        v3+ with IPC: a keyword or IPC hit scores the sector's probability. v3+ without IPC: a
        keyword hit scores the sector's probability, any other sub-field the calibrated text
        probability capped at the sector's, both recalibrated; the latter are listed from the
        sub-field's tuned threshold on.
        """
        ipc_subfields: set[str] = set()
        for symbol in ipc:
            ipc_subfields.update(self._symbol_hits(symbol)[1])
        found: list[tuple[str, str, float]] = []
        for sector in sectors:
            weights = dict.fromkeys(self.keyword_subfields(sector, text), KEYWORD_WEIGHT)
            for qualified in ipc_subfields:
                owner, _, subfield = qualified.partition(".")
                if owner == sector:
                    weights[subfield] = 1.0
            score = rounded[self._label_index[sector]]
            if self._subfield_columns is None:  # v1/v2
                found.extend((sector, sf, round(score * w, 4)) for sf, w in weights.items())
                continue
            if ipc:  # the fused sector score; no hit means not in the sub-field
                found.extend((sector, sf, score) for sf in weights)
                continue
            assert text_row is not None
            hit_scores, text_scores = text_row
            for subfield, k in self._sector_subfields[sector]:
                if subfield in weights:
                    found.append((sector, subfield, hit_scores[k]))
                elif text_scores[k]:
                    found.append((sector, subfield, text_scores[k]))
        # highest score first, ties in taxonomy order (never set order: it varies per process)
        found.sort(key=lambda f: (-f[2], self._subfield_order[(f[0], f[1])]))
        return found

    def _top_terms(
        self,
        matrix: sparse.csr_matrix,
        assigned: npt.NDArray[np.bool_],
        columns: npt.NDArray[np.int64],
    ) -> list[dict[str, list[str]]]:
        """Per document and label: the features whose weight x coefficient pushed it most.

        The labels are the assigned ones (``other`` where none is). Vectorised over all
        (document, label) pairs: gather each row's entries, multiply by the coefficients of the
        column that decided the label (``columns[doc, label]``), keep the positive ones, sort
        within the pair (ties in feature order), keep the first :data:`TOP_TERMS`.
        """
        n_docs = assigned.shape[0]
        pairs = assigned.copy()
        pairs[~assigned.any(axis=1), self._label_index[OTHER]] = True
        pair_row, pair_label = np.nonzero(pairs)
        starts = matrix.indptr[pair_row]
        seg = matrix.indptr[pair_row + 1] - starts
        total = int(seg.sum())
        out: list[dict[str, list[str]]] = [{} for _ in range(n_docs)]
        if total == 0:
            return out
        offsets = np.cumsum(seg) - seg
        pair_of = np.repeat(np.arange(len(pair_row)), seg)
        pos = np.arange(total) - np.repeat(offsets, seg) + np.repeat(starts, seg)
        features = matrix.indices[pos]
        pair_column = columns[pair_row, pair_label]
        contrib = matrix.data[pos] * self.params.coef[features, pair_column[pair_of]]
        positive = np.flatnonzero(contrib > 0)
        pair_of, features, contrib = pair_of[positive], features[positive], contrib[positive]
        order = np.lexsort((-contrib, pair_of))
        kept_pairs = pair_of[order]
        first = np.searchsorted(kept_pairs, kept_pairs, side="left")
        keep = order[np.arange(len(order)) - first < TOP_TERMS]
        kept_pairs = pair_of[keep]
        kept_terms = self._vocabulary_terms()[features[keep]].tolist()
        if not len(kept_pairs):
            return out
        # kept_pairs is sorted: one slice of kept_terms per (document, label) pair
        bounds = (np.flatnonzero(np.diff(kept_pairs)) + 1).tolist()
        begins, ends = [0, *bounds], [*bounds, len(kept_pairs)]
        rows, labels = pair_row.tolist(), pair_label.tolist()
        for pair, begin, end in zip(kept_pairs[begins].tolist(), begins, ends, strict=True):
            out[rows[pair]][self.labels[labels[pair]]] = kept_terms[begin:end]
        return out

    def _vocabulary_terms(self) -> npt.NDArray[np.object_]:
        """Feature index -> term, as an object array (fancy indexing, then one ``tolist``)."""
        if self._terms is None:
            terms = np.empty(len(self.params.idf), dtype=object)
            terms[np.fromiter(self.params.vocabulary.values(), dtype=np.int64)] = list(
                self.params.vocabulary
            )
            self._terms = terms
        return self._terms


# --- parallel classification (persistent forked workers, models/workers.py) ---------------


def _serve_share(model: Classifier, request: tuple[list[Any], bool, bool]) -> Any:
    """In a worker: convert and classify one share; only compact plain tuples go back."""
    records, text_only, explain = request
    with _gc_paused():
        return model._classify_records(records, text_only, explain)


def _plain(record: Any) -> Any:
    """A record as something cheap to pickle: dicts as they are, anything else (a
    DocumentRecord, a stored Document) as a dict of the fields classification reads."""
    if type(record) is dict:
        return record
    return {
        key: getattr(record, key, None) for key in ("number", "title", "abstract", "claims", "ipc")
    }


def _classify_parallel(
    model: Classifier, records: Sequence[Any], text_only: bool, workers: int, explain: bool
) -> list[Classification]:
    """The model's persistent workers classify every share but the first, which this process
    does meanwhile (it would otherwise only wait); results are put back in input order.

    Interleaved shares balance the work even when duplicates (computed once per share) cluster
    in one part of the input. One parallel batch at a time per model (the pipes carry one
    request each).
    """
    workers = min(workers, len(records))
    with model._pool_lock:
        pool = model._worker_pool(workers - 1)
        try:
            pool.submit(
                [
                    ([_plain(r) for r in records[share::workers]], text_only, explain)
                    for share in range(1, workers)
                ]
            )
            shares = [
                model._build(*model._classify_records(records[0::workers], text_only, explain))
            ]
            shares.extend(model._build(*payload) for payload in pool.collect())
        except BaseException:
            model._close_pool()  # a worker may be mid-answer: start afresh next time
            raise
    results: list[Classification] = [None] * len(records)  # type: ignore[list-item]
    for share, classified in enumerate(shares):
        results[share::workers] = classified
    return results


# --- loading ---------------------------------------------------------------------------------


def artifact_dirs(settings: Any = None) -> list[Path]:
    """Where versions are looked up: the configured ``model_dir`` first, then the packaged ones."""
    dirs = []
    configured = getattr(settings, "model_dir", None) if settings is not None else None
    if configured:
        dirs.append(Path(configured))
    elif settings is not None and getattr(settings, "data_dir", None):
        dirs.append(Path(settings.data_dir) / "models")
    dirs.append(PACKAGED_DIR)
    return dirs


#: a version is a folder name (v3, v4-test), never a path
_VERSION_NAME = re.compile(r"(?!\.{1,2}$)[A-Za-z0-9._-]{1,64}")


def find_version(version: str, settings: Any = None) -> Path:
    if not _VERSION_NAME.fullmatch(version):
        raise ModelNotFound(
            f"{version[:80]!r} is not a classifier version name (like v3: letters, digits, "
            "'.', '_', '-'); `ipwarn model list` shows the versions"
        )
    for directory in artifact_dirs(settings):
        if (directory / version).is_dir():
            return directory / version
    searched = ", ".join(str(d) for d in artifact_dirs(settings))
    raise ModelNotFound(f"classifier version {version!r} not found (searched {searched})")


@cache
def _load_cached(folder: str) -> Classifier:
    started = time.perf_counter()
    model = Classifier(load_params(Path(folder)))
    log.debug(
        "classifier.loaded", version=model.version, seconds=round(time.perf_counter() - started, 3)
    )
    return model


def load_classifier(settings_or_path: Any = None, version: str | None = None) -> Classifier:
    """Load (once per process) a model: a folder path, or ``version`` looked up via settings.

    ``settings_or_path`` may be None (packaged default), a :class:`~warning.config.Settings`, or a
    path to an artifact folder (``.../v1``).
    """
    if isinstance(settings_or_path, str | os.PathLike):
        return _load_cached(str(Path(settings_or_path).resolve()))
    folder = find_version(version or DEFAULT_VERSION, settings_or_path)
    return _load_cached(str(folder.resolve()))

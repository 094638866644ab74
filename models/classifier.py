"""Classification with a loaded artifact: features, calibrated scores, sub-fields, explanations.

Scores per label are calibrated probabilities. Without IPC (or with ``text_only``) they come from
the text model alone; with IPC they come from a logistic fusion of the text model's decision and
the taxonomy's IPC evidence, learnt on a held-out slice of the gazette.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from functools import cache
from itertools import chain
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from scipy import sparse

from models.artifact import DEFAULT_VERSION, PACKAGED_DIR, ModelParams, load_params
from models.text import (
    analyze_with_words,
    cjk_matcher,
    document_text,
    has_latin,
    latin_tokens,
    normalize_text,
)
from warning.errors import ModelNotFound
from warning.ipc import matches_prefix, normalize_ipc, normalize_ipc_list
from warning.logging import get_logger
from warning.taxonomy import OTHER, Taxonomy, load_taxonomy

log = get_logger(__name__)

#: weight of a sub-field keyword found in the text (IPC evidence for a sub-field counts 1.0)
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
        return asdict(self)


@dataclass(frozen=True)
class _Doc:
    number: str
    text: str
    ipc: tuple[str, ...]


def _as_doc(record: Mapping[str, Any] | Any, text_only: bool) -> _Doc:
    """Accept a dict (JSON line) or a DocumentRecord / ORM Document (attribute access)."""
    get = record.get if isinstance(record, Mapping) else lambda k, d=None: getattr(record, k, d)
    raw_ipc = get("ipc") or []
    ipc = () if text_only else _normalized(raw_ipc)
    text = document_text(
        str(get("title") or ""), str(get("abstract") or ""), str(get("claims") or "")
    )
    return _Doc(str(get("number") or ""), text, ipc)


_NORMALIZED: dict[str, str | None] = {}


def _normalized(raw: str | Sequence[str]) -> tuple[str, ...]:
    """:func:`normalize_ipc_list`, memoised per symbol (batches repeat symbols a lot)."""
    if isinstance(raw, str):
        return tuple(normalize_ipc_list(raw))
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


def _keyword_pattern(keyword: str) -> str:
    """English keywords ("led", "pcb") must be whole words, or "controlled" would match "led"."""
    escaped = re.escape(keyword)
    return rf"(?<![a-z0-9]){escaped}(?![a-z0-9])" if keyword.isascii() else escaped


def _sigmoid(x: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    return 1.0 / (1.0 + np.exp(-np.clip(x, -40, 40)))


class Classifier:
    """A loaded model version. Thread-safe for reading; cheap to call repeatedly."""

    def __init__(self, params: ModelParams, taxonomy: Taxonomy | None = None) -> None:
        self.params = params
        self.taxonomy = taxonomy or load_taxonomy()
        self.labels = list(params.labels)
        self.sector_ids = [label for label in self.labels if label != OTHER]
        self._terms: list[str] | None = None
        self._subfield_order = {
            (sf.sector, sf.id): i for i, sf in enumerate(self.taxonomy.subfields)
        }
        self._matcher = (
            params.matcher if params.matcher is not None else cjk_matcher(params.vocabulary)
        )
        self._symbol_cache: dict[str, tuple[tuple[tuple[str, str], ...], frozenset[str]]] = {}
        self._sector_index = [self.labels.index(s) for s in self.sector_ids]
        self._label_index = {label: j for j, label in enumerate(self.labels)}
        self._label_columns = self._columns_per_label(params.columns)
        # per sector: one regex of all its sub-fields' keywords, and keyword -> sub-fields
        self._keyword_regex: dict[str, re.Pattern[str]] = {}
        self._keyword_subfields: dict[str, dict[str, set[str]]] = {}
        for sector in self.taxonomy.sectors:
            owners: dict[str, set[str]] = {}
            for sf in sector.subfields:
                for keyword in sf.keywords:
                    owners.setdefault(normalize_text(keyword), set()).add(sf.id)
            if owners:
                alternatives = sorted(owners, key=len, reverse=True)
                self._keyword_regex[sector.id] = re.compile(
                    "|".join(map(_keyword_pattern, alternatives))
                )
                self._keyword_subfields[sector.id] = owners

    @property
    def version(self) -> str:
        return self.params.version

    def _feature_ids(self, text: str) -> list[int]:
        normalized = normalize_text(text)
        ids = [index for _, index in self._matcher.iter(normalized)]
        if has_latin(normalized):
            vocab_get = self.params.vocabulary.get
            ids.extend(vocab_get(token, -1) for token in latin_tokens(normalized))
        return ids

    # --- features ---------------------------------------------------------------------------

    def features(self, texts: Sequence[str]) -> sparse.csr_matrix:
        """TF-IDF rows (sublinear tf, L2-normalised), exactly as the training vectorizer made them.

        Per text only the feature indices are found (Aho-Corasick scan for Chinese n-grams,
        dict look-ups for English words); counting, weighting and normalisation run once,
        vectorised, over the whole batch.
        """
        n_docs, n_features = len(texts), len(self.params.idf)
        if self.params.word_features:
            vocab_get = self.params.vocabulary.get
            id_lists = [[vocab_get(t, -1) for t in analyze_with_words(text)] for text in texts]
        else:
            id_lists = [self._feature_ids(text) for text in texts]
        lengths = np.fromiter(map(len, id_lists), dtype=np.int64, count=n_docs)
        ids = np.fromiter(chain.from_iterable(id_lists), dtype=np.int64, count=int(lengths.sum()))
        rows = np.repeat(np.arange(n_docs, dtype=np.int64), lengths)
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
            sectors = tuple(
                (sector, prefix)
                for sector, prefixes in self.taxonomy.sectors_for_ipc([symbol]).items()
                for prefix in prefixes
            )
            subfields = frozenset(
                sf.qualified
                for sf in self.taxonomy.subfields
                if sf.ipc and matches_prefix(symbol, sf.ipc)
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
        docs = [_as_doc(r, text_only) for r in records]
        if workers > 1 and len(docs) >= 2000:
            return _classify_parallel(self, docs, workers, explain)
        return self._classify_docs(docs, explain)

    def _classify_docs(self, docs: Sequence[_Doc], explain: bool = True) -> list[Classification]:
        if not docs:
            return []
        matrix = self.features([d.text for d in docs])
        decision, columns = self.label_decision(self.column_scores(matrix))
        probs = self.text_probabilities(decision)
        thresholds = np.tile(self.params.thresholds, (len(docs), 1))
        with_ipc = [i for i, d in enumerate(docs) if d.ipc]
        hits: list[dict[str, list[str]]] = [{} for _ in docs]
        if with_ipc:
            rows = []
            for i in with_ipc:
                hits[i] = self.ipc_hits(docs[i].ipc)
                rows.append(self.evidence_row(hits[i]))
            evidence = np.array(rows, dtype=np.float64)
            probs[with_ipc] = self.fused_probabilities(decision[with_ipc], evidence)
            thresholds[with_ipc] = self.params.fusion_thresholds
        assigned_mask = probs >= thresholds
        assigned_mask[:, self._label_index[OTHER]] = False
        rounded = np.round(probs, 4).tolist()
        assigned: list[list[str]] = []
        for i, mask_row in enumerate(assigned_mask.tolist()):
            if not any(mask_row):  # most documents: no sector
                assigned.append([])
                continue
            chosen = [j for j in self._sector_index if mask_row[j]]
            chosen.sort(key=rounded[i].__getitem__, reverse=True)
            assigned.append([self.labels[j] for j in chosen])
        if explain:
            terms = self._top_terms(matrix, [a or [OTHER] for a in assigned], columns)
        else:
            terms = [{} for _ in docs]
        results = []
        for i, doc in enumerate(docs):
            scores = dict(zip(self.labels, rounded[i], strict=True))
            labels = assigned[i] or [OTHER]
            results.append(
                Classification(
                    number=doc.number,
                    sectors=labels,
                    scores=scores,
                    subfields=self._subfields(doc, assigned[i], scores),
                    explanation={
                        label: {"terms": terms[i].get(label, []), "ipc": hits[i].get(label, [])}
                        for label in labels
                    },
                    model_version=self.version,
                )
            )
        return results

    def _subfields(
        self, doc: _Doc, sectors: list[str], scores: dict[str, float]
    ) -> list[dict[str, Any]]:
        """Sub-fields of the assigned sectors with IPC or keyword evidence, scaled by the sector."""
        if not sectors:
            return []
        text = normalize_text(doc.text)
        ipc_subfields: set[str] = set()
        for symbol in doc.ipc:
            ipc_subfields.update(self._symbol_hits(symbol)[1])
        found: list[dict[str, Any]] = []
        for sector in sectors:
            weights: dict[str, float] = {}
            regex = self._keyword_regex.get(sector)
            if regex is not None:
                owners = self._keyword_subfields[sector]
                for keyword in regex.findall(text):
                    for subfield in owners[keyword]:
                        weights[subfield] = KEYWORD_WEIGHT
            for qualified in ipc_subfields:
                owner, _, subfield = qualified.partition(".")
                if owner == sector:
                    weights[subfield] = 1.0
            found.extend(
                {"sector": sector, "subfield": sf, "score": round(scores[sector] * w, 4)}
                for sf, w in weights.items()
            )
        # highest score first, ties in taxonomy order (never set order: it varies per process)
        found.sort(key=lambda f: (-f["score"], self._subfield_order[(f["sector"], f["subfield"])]))
        return found

    def _top_terms(
        self,
        matrix: sparse.csr_matrix,
        labels: list[list[str]],
        columns: npt.NDArray[np.int64],
    ) -> list[dict[str, list[str]]]:
        """Per document and label: the features whose weight x coefficient pushed it most.

        Vectorised over all (document, label) pairs: gather each row's entries, multiply by the
        coefficients of the column that decided the label (``columns[doc, label]``), sort within
        the pair, keep the first :data:`TOP_TERMS` positives.
        """
        pair_row = np.array([i for i, ls in enumerate(labels) for _ in ls], dtype=np.int64)
        pair_label = np.array(
            [self._label_index[label] for ls in labels for label in ls], dtype=np.int64
        )
        starts = matrix.indptr[pair_row]
        seg = matrix.indptr[pair_row + 1] - starts
        total = int(seg.sum())
        out: list[dict[str, list[str]]] = [{} for _ in labels]
        if total == 0:
            return out
        offsets = np.cumsum(seg) - seg
        pair_of = np.repeat(np.arange(len(pair_row)), seg)
        pos = np.arange(total) - np.repeat(offsets, seg) + np.repeat(starts, seg)
        features = matrix.indices[pos]
        pair_column = columns[pair_row, pair_label]
        contrib = matrix.data[pos] * self.params.coef[features, pair_column[pair_of]]
        order = np.lexsort((-contrib, pair_of))
        rank = np.arange(total) - offsets[pair_of[order]]
        keep = order[(rank < TOP_TERMS) & (contrib[order] > 0)]
        vocabulary_terms = self._vocabulary_terms()
        kept_pairs = pair_of[keep].tolist()
        kept_terms = [vocabulary_terms[f] for f in features[keep].tolist()]
        rows, labels_of = pair_row.tolist(), [self.labels[j] for j in pair_label.tolist()]
        for p, term in zip(kept_pairs, kept_terms, strict=True):
            out[rows[p]].setdefault(labels_of[p], []).append(term)
        return out

    def _vocabulary_terms(self) -> list[str]:
        if self._terms is None:
            terms = [""] * len(self.params.idf)
            for term, index in self.params.vocabulary.items():
                terms[index] = term
            self._terms = terms
        return self._terms


# --- parallel classification (forked processes inherit the model and the documents) --------

_WORKER_STATE: tuple[Classifier, Sequence[_Doc], bool] | None = None


def _classify_range(bounds: tuple[int, int]) -> list[tuple[Any, ...]]:
    """Classify docs[start:end] in a worker; plain tuples pickle much faster than dataclasses."""
    assert _WORKER_STATE is not None
    model, docs, explain = _WORKER_STATE
    return [
        (c.number, c.sectors, c.scores, c.subfields, c.explanation)
        for c in model._classify_docs(docs[bounds[0] : bounds[1]], explain)
    ]


def _classify_parallel(
    model: Classifier, docs: list[_Doc], workers: int, explain: bool
) -> list[Classification]:
    import multiprocessing

    global _WORKER_STATE
    _WORKER_STATE = (model, docs, explain)
    size = len(docs) // (workers * 2) + 1
    ranges = [(i, i + size) for i in range(0, len(docs), size)]
    try:
        with multiprocessing.get_context("fork").Pool(workers) as pool:
            parts = pool.map(_classify_range, ranges)
    finally:
        _WORKER_STATE = None
    return [
        Classification(number, sectors, scores, subfields, explanation, model.version)
        for part in parts
        for number, sectors, scores, subfields, explanation in part
    ]


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


def find_version(version: str, settings: Any = None) -> Path:
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

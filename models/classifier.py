"""Classification with a loaded artifact: features, calibrated scores, sub-fields, explanations.

Scores per label are calibrated probabilities. Without IPC (or with ``text_only``) they come from
the text model alone; with IPC they come from a logistic fusion of the text model's decision and
the taxonomy's IPC evidence, learnt on a held-out slice of the gazette.
"""

from __future__ import annotations

import os
import time
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from scipy import sparse

from models.artifact import DEFAULT_VERSION, PACKAGED_DIR, ModelParams, load_params
from models.text import analyze, analyze_with_words, document_text, normalize_text
from warning.errors import ModelNotFound
from warning.ipc import matches_prefix, normalize_ipc_list
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
    ipc = () if text_only else tuple(normalize_ipc_list(raw_ipc))
    text = document_text(
        str(get("title") or ""), str(get("abstract") or ""), str(get("claims") or "")
    )
    return _Doc(str(get("number") or ""), text, ipc)


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
        self._ipc_cache: dict[
            tuple[str, ...], tuple[npt.NDArray[np.float64], dict[str, list[str]]]
        ] = {}
        self._sector_index = [self.labels.index(s) for s in self.sector_ids]
        self._label_index = {label: j for j, label in enumerate(self.labels)}
        self._keywords = [
            (sf, tuple(normalize_text(k) for k in sf.keywords)) for sf in self.taxonomy.subfields
        ]

    @property
    def version(self) -> str:
        return self.params.version

    # --- features ---------------------------------------------------------------------------

    def features(self, texts: Sequence[str]) -> sparse.csr_matrix:
        """TF-IDF rows (sublinear tf, L2-normalised), exactly as the training vectorizer made them.

        Tokens are counted per text in Python; weighting and normalisation run once, vectorised,
        over the whole batch.
        """
        vocab_get = self.params.vocabulary.get
        analyzer = analyze_with_words if self.params.word_features else analyze
        indptr = [0]
        indices: list[int] = []
        counts: list[int] = []
        for text in texts:
            for token, count in Counter(analyzer(text)).items():
                index = vocab_get(token)
                if index is not None:
                    indices.append(index)
                    counts.append(count)
            indptr.append(len(indices))
        idx = np.asarray(indices, dtype=np.int64)
        values = (1.0 + np.log(np.asarray(counts, dtype=np.float64))) * self.params.idf[idx]
        pointers = np.asarray(indptr, dtype=np.int64)
        lengths = np.diff(pointers)
        if len(values):
            sums = np.add.reduceat(values * values, pointers[:-1][lengths > 0])
            norms = np.zeros(len(texts))
            norms[lengths > 0] = np.sqrt(sums)
            values /= np.repeat(norms, lengths)
        shape = (len(texts), len(self.params.idf))
        return sparse.csr_matrix((values, idx, pointers), shape=shape)

    def decision(self, matrix: sparse.csr_matrix) -> npt.NDArray[np.float64]:
        coef = self.params.coef
        return np.asarray(matrix @ coef, dtype=np.float64) + self.params.intercept

    def text_probabilities(self, decision: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        platt = self.params.platt
        return _sigmoid(-(platt[:, 0] * decision + platt[:, 1]))

    def ipc_evidence(
        self, ipc: Sequence[str]
    ) -> tuple[npt.NDArray[np.float64], dict[str, list[str]]]:
        """1/0 per label: does an IPC symbol put the document in that label (other: in none)?

        Cached per symbol set: a batch repeats the same few thousand symbols over and over.
        """
        key = tuple(ipc)
        cached = self._ipc_cache.get(key)
        if cached is None:
            hits = self.taxonomy.sectors_for_ipc(list(ipc))
            row = np.array([1.0 if label in hits else 0.0 for label in self.labels])
            if OTHER in self.labels:
                row[self.labels.index(OTHER)] = 0.0 if hits else 1.0
            if len(self._ipc_cache) > 200_000:
                self._ipc_cache.clear()
            cached = self._ipc_cache[key] = (row, hits)
        return cached

    def fused_probabilities(
        self, decision: npt.NDArray[np.float64], evidence: npt.NDArray[np.float64]
    ) -> npt.NDArray[np.float64]:
        fusion = self.params.fusion
        return _sigmoid(fusion[:, 0] * decision + fusion[:, 1] * evidence + fusion[:, 2])

    # --- classification ---------------------------------------------------------------------

    def classify(
        self, records: Iterable[Mapping[str, Any] | Any], text_only: bool = False, workers: int = 1
    ) -> list[Classification]:
        """Classify records (dicts, DocumentRecords or stored Documents), in order."""
        docs = [_as_doc(r, text_only) for r in records]
        if workers > 1 and len(docs) >= 2000:
            return _classify_parallel(self, docs, workers)
        return self._classify_docs(docs)

    def _classify_docs(self, docs: Sequence[_Doc]) -> list[Classification]:
        if not docs:
            return []
        matrix = self.features([d.text for d in docs])
        decision = self.decision(matrix)
        probs = self.text_probabilities(decision)
        with_ipc = [i for i, d in enumerate(docs) if d.ipc]
        hits: list[dict[str, list[str]]] = [{} for _ in docs]
        if with_ipc:
            evidence = np.zeros((len(with_ipc), len(self.labels)))
            for k, i in enumerate(with_ipc):
                evidence[k], hits[i] = self.ipc_evidence(docs[i].ipc)
            probs[with_ipc] = self.fused_probabilities(decision[with_ipc], evidence)
        return [
            self._result(
                doc,
                probs[i],
                self.params.fusion_thresholds if doc.ipc else self.params.thresholds,
                hits[i],
                matrix,
                i,
            )
            for i, doc in enumerate(docs)
        ]

    def _result(
        self,
        doc: _Doc,
        probs: npt.NDArray[np.float64],
        thresholds: npt.NDArray[np.float64],
        hits: dict[str, list[str]],
        matrix: sparse.csr_matrix,
        row: int,
    ) -> Classification:
        scores = {label: round(float(p), 4) for label, p in zip(self.labels, probs, strict=True)}
        sectors = [self.labels[j] for j in self._sector_index if probs[j] >= thresholds[j]]
        sectors.sort(key=lambda s: -scores[s])
        assigned = sectors or [OTHER]
        explanation = {
            label: {"terms": self._top_terms(matrix, row, label), "ipc": hits.get(label, [])}
            for label in assigned
        }
        return Classification(
            number=doc.number,
            sectors=assigned,
            scores=scores,
            subfields=self._subfields(doc, sectors, scores),
            explanation=explanation,
            model_version=self.version,
        )

    def _subfields(
        self, doc: _Doc, sectors: list[str], scores: dict[str, float]
    ) -> list[dict[str, Any]]:
        """Sub-fields of the assigned sectors with IPC or keyword evidence, scaled by the sector."""
        if not sectors:
            return []
        text = normalize_text(doc.text)
        found: list[dict[str, Any]] = []
        for sf, keywords in self._keywords:
            if sf.sector not in sectors:
                continue
            if doc.ipc and sf.ipc and any(matches_prefix(s, sf.ipc) for s in doc.ipc):
                weight = 1.0
            elif any(k in text for k in keywords):
                weight = KEYWORD_WEIGHT
            else:
                continue
            found.append(
                {
                    "sector": sf.sector,
                    "subfield": sf.id,
                    "score": round(scores[sf.sector] * weight, 4),
                }
            )
        found.sort(key=lambda f: -float(f["score"]))
        return found

    def _top_terms(self, matrix: sparse.csr_matrix, row: int, label: str) -> list[str]:
        start, end = matrix.indptr[row], matrix.indptr[row + 1]
        if start == end:
            return []
        idx = matrix.indices[start:end]
        contrib = matrix.data[start:end] * self.params.coef[idx, self._label_index[label]]
        order = np.argsort(-contrib)[:TOP_TERMS]
        terms = self._vocabulary_terms()
        return [terms[idx[k]] for k in order if contrib[k] > 0]

    def _vocabulary_terms(self) -> list[str]:
        if self._terms is None:
            terms = [""] * len(self.params.idf)
            for term, index in self.params.vocabulary.items():
                terms[index] = term
            self._terms = terms
        return self._terms


# --- parallel classification (process pool; the model is inherited by fork) -----------------

_WORKER_MODEL: Classifier | None = None


def _classify_chunk(docs: list[_Doc]) -> list[Classification]:
    assert _WORKER_MODEL is not None
    return _WORKER_MODEL._classify_docs(docs)


def _classify_parallel(model: Classifier, docs: list[_Doc], workers: int) -> list[Classification]:
    import multiprocessing

    global _WORKER_MODEL
    _WORKER_MODEL = model
    size = max(500, len(docs) // (workers * 4) + 1)
    chunks = [docs[i : i + size] for i in range(0, len(docs), size)]
    context = multiprocessing.get_context("fork")
    with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
        parts = list(pool.map(_classify_chunk, chunks))
    return [c for part in parts for c in part]


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

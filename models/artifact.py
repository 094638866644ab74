"""The on-disk model: ``<dir>/<version>/model.pkl.gz`` + ``metadata.json``.

The pickle holds only plain Python and numpy objects (vocabulary, idf, coefficients,
calibration and fusion parameters, the Aho-Corasick matcher), so loading it needs neither
scikit-learn nor a matching scikit-learn version. Plain pickle + gzip loads in about 0.2 s;
the same payload through joblib took 0.5-0.8 s (its pure-Python pickler is slow on the
250k-entry vocabulary), which mattered for the 2 s start-up budget. Only load artifacts you
trust: like any pickle, loading one runs code.
"""

from __future__ import annotations

import gzip
import json
import pickle
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from warning.errors import ModelNotFound

PACKAGED_DIR = Path(__file__).parent / "artifacts"
#: the version a fresh clone uses until `ipwarn model activate` says otherwise
DEFAULT_VERSION = "v3"
MODEL_FILE = "model.pkl.gz"
METADATA_FILE = "metadata.json"

FloatArray = npt.NDArray[np.float64]


@dataclass
class ModelParams:
    """Everything classification needs, as arrays indexed [feature, label] or [label]."""

    version: str
    labels: list[str]
    vocabulary: dict[str, int]
    idf: npt.NDArray[np.float32]
    #: linear text model, one column per label (float32 when trained, float64 once loaded)
    coef: npt.NDArray[np.float32] | FloatArray
    intercept: FloatArray
    #: Platt scaling of the text model: p = 1 / (1 + exp(a * d + b)); shape (labels, 2)
    platt: FloatArray
    #: per-label probability at or above which a label is assigned (text only)
    thresholds: FloatArray
    #: logistic fusion of text decision and IPC evidence: w_text, w_ipc, bias; shape (labels, 3)
    fusion: FloatArray
    fusion_thresholds: FloatArray
    metadata: dict[str, Any]
    #: features also include jieba words (domain dictionary); off in the shipped model
    word_features: bool = False
    #: Aho-Corasick automaton of the Chinese vocabulary (built at training; rebuilt if absent)
    matcher: Any = None
    #: hierarchical model (v2+): names of the ``coef`` columns, ``"<label>:<IPC class or section>"``
    #: (e.g. ``"steel:C21"``, ``"other:H"``); None when the columns are the labels themselves (v1)
    columns: list[str] | None = None
    #: how much the best "other" column counts against a sector's best column (hierarchical only)
    competition: float = 0.0
    #: calibrated sub-field head (v3+, see models/subfields.py): the qualified sub-fields in
    #: taxonomy order, Platt (a, b) of each one's IPC-class column decision, and the threshold at
    #: which a text-only score lists it; None: v1/v2 scoring (sector x 1.0 IPC / 0.9 keyword)
    subfields: list[str] | None = None
    subfield_platt: FloatArray | None = None
    subfield_thresholds: FloatArray | None = None
    #: text-only sub-field scores recalibrated, pooled over sub-fields: Platt (a, b) on the logit
    #: of the raw score, row 0 for keyword hits, row 1 for text-model scores
    subfield_recalibration: FloatArray | None = None

    def to_payload(self) -> dict[str, Any]:
        payload = dict(self.__dict__)
        payload.pop("metadata")
        if self.columns is not None:
            payload["coef"] = pack_sparse(self.coef)
        return payload


def pack_sparse(coef: npt.NDArray[np.float32] | FloatArray) -> dict[str, Any]:
    """A mostly-zero [feature, column] matrix as CSC arrays with float16 values.

    The hierarchical model has ~56 columns; dense float32 they would be 56 MB, pruned and packed
    like this about 4 MB compressed (pruning at 0.02 cost no held-out F1, see docs/classifier.md).
    """
    from scipy import sparse

    packed = sparse.csc_matrix(coef)
    return {
        "shape": packed.shape,
        "data": packed.data.astype(np.float16),
        "indices": packed.indices.astype(np.int32),
        "indptr": packed.indptr.astype(np.int64),
    }


def unpack_sparse(packed: dict[str, Any]) -> FloatArray:
    """Dense again: classifying multiplies by it, and dense is the fast side of that.

    float64, the type of the feature matrix it multiplies: with float32 here, scipy converted
    the whole matrix (252,666 x 61) to float64 on every batch, which cost more than the product
    itself (85 ms against 32 ms a 1,000-title batch). The values (float16 on disk) are exact in
    either type, so the scores are bit-identical; the price is 62 MB more memory.
    """
    from scipy import sparse

    matrix = sparse.csc_matrix(
        (packed["data"].astype(np.float64), packed["indices"], packed["indptr"]),
        shape=tuple(packed["shape"]),
    )
    dense: FloatArray = matrix.toarray(order="C")  # in C: 0.05 s, a loop per column took 0.5 s
    return dense


def save_artifact(params: ModelParams, directory: Path) -> Path:
    """Write the model and its metadata under ``directory/<version>``; returns that folder."""
    target = directory / params.version
    target.mkdir(parents=True, exist_ok=True)
    blob = pickle.dumps(params.to_payload(), protocol=pickle.HIGHEST_PROTOCOL)
    (target / MODEL_FILE).write_bytes(gzip.compress(blob, compresslevel=6, mtime=0))
    (target / METADATA_FILE).write_text(
        json.dumps(params.metadata, ensure_ascii=False, indent=2) + "\n", encoding="utf-8"
    )
    return target


def read_metadata(folder: Path) -> dict[str, Any]:
    path = folder / METADATA_FILE
    if not path.exists():
        return {}
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


def load_params(folder: Path) -> ModelParams:
    path = folder / MODEL_FILE
    if not path.exists():
        raise ModelNotFound(f"no classifier artifact at {path}; run `ipwarn model train` first")
    payload = pickle.loads(gzip.decompress(path.read_bytes()))
    payload["version"] = folder.name  # the folder name is the version `model activate` names
    if isinstance(payload["coef"], dict):
        payload["coef"] = unpack_sparse(payload["coef"])
    else:  # v1: stored dense float32
        payload["coef"] = np.ascontiguousarray(payload["coef"], dtype=np.float64)
    return ModelParams(**payload, metadata=read_metadata(folder))

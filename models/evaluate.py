"""Metrics for the classifier: per-label P/R/F1, macro/micro-F1, auto-tag precision/coverage, ECE.

"Auto-tag" follows how rules use tags ("sector = steel with confidence >= 0.8"): every label
whose probability reaches the threshold is a tag; precision is the share of such tags that are
right, coverage the share of documents that receive at least one.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from models.classifier import Classifier
from models.data import Example, weak_labels
from models.subfields import subfield_truth
from warning.taxonomy import OTHER

BoolArray = npt.NDArray[np.bool_]
FloatArray = npt.NDArray[np.float64]


@dataclass
class Predictions:
    labels: list[str]
    truth: BoolArray
    assigned: BoolArray
    probs: FloatArray
    #: qualified sub-fields (taxonomy order), their weak labels, and the listed ones' scores
    #: (0 where ``classify`` did not list the sub-field)
    subfields: list[str]
    subfield_truth: BoolArray
    subfield_probs: FloatArray


def predict(model: Classifier, examples: Sequence[Example], *, text_only: bool) -> Predictions:
    records = [e.record() for e in examples]
    results = model.classify(records, text_only=text_only)
    labels = model.labels
    sectors = [weak_labels(model.taxonomy, e.ipc) for e in examples]
    truth = np.array([[lab in found for lab in labels] for found in sectors])
    assigned = np.array([[lab in r.sectors for lab in labels] for r in results])
    probs = np.array([[r.scores[lab] for lab in labels] for r in results], dtype=np.float64)
    subfields = [sf.qualified for sf in model.taxonomy.subfields]
    index = {q: k for k, q in enumerate(subfields)}
    sub_truth = subfield_truth(
        model.taxonomy, sectors, [e.text for e in examples], [e.ipc for e in examples]
    )[0]
    sub_probs = np.zeros(sub_truth.shape)
    for i, result in enumerate(results):
        for item in result.subfields:
            sub_probs[i, index[f"{item['sector']}.{item['subfield']}"]] = item["score"]
    return Predictions(
        labels,
        truth.reshape(-1, len(labels)),
        assigned.reshape(-1, len(labels)),
        probs.reshape(-1, len(labels)),
        subfields,
        sub_truth,
        sub_probs,
    )


def _prf(truth: BoolArray, pred: BoolArray) -> tuple[float, float, float, int]:
    tp = int(np.sum(truth & pred))
    fp = int(np.sum(~truth & pred))
    fn = int(np.sum(truth & ~pred))
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return precision, recall, f1, int(np.sum(truth))


def _prf_row(truth: BoolArray, pred: BoolArray) -> dict[str, Any]:
    """Precision, recall, F1 (rounded) and support, as the reports print them."""
    p, r, f, support = _prf(truth, pred)
    return {"precision": round(p, 4), "recall": round(r, 4), "f1": round(f, 4), "support": support}


def f1_score(truth: BoolArray, pred: BoolArray) -> float:
    return _prf(truth, pred)[2]


def best_f1_threshold(truth: BoolArray, probs: FloatArray) -> float:
    """The probability threshold maximising F1 on tuning data (0.5 when there is no positive)."""
    if not truth.any():
        return 0.5
    grid = np.arange(0.05, 0.951, 0.025)
    scores = [_prf(truth, probs >= t)[2] for t in grid]
    return float(grid[int(np.argmax(scores))])


def expected_calibration_error(truth: BoolArray, probs: FloatArray, bins: int = 10) -> float:
    """ECE over every (document, label) probability, equal-width bins."""
    flat_p = probs.ravel()
    flat_t = truth.ravel().astype(np.float64)
    edges = np.linspace(0.0, 1.0, bins + 1)
    which = np.clip(np.digitize(flat_p, edges[1:-1]), 0, bins - 1)
    total = 0.0
    for b in range(bins):
        mask = which == b
        if mask.any():
            total += mask.sum() * abs(flat_p[mask].mean() - flat_t[mask].mean())
    return float(total / max(len(flat_p), 1))


def auto_tag(truth: BoolArray, probs: FloatArray, threshold: float) -> tuple[float, float]:
    """(precision, coverage) of the tags whose probability reaches ``threshold``."""
    tags = probs >= threshold
    n_tags = int(tags.sum())
    precision = float((tags & truth).sum() / n_tags) if n_tags else 0.0
    coverage = float(tags.any(axis=1).mean()) if len(tags) else 0.0
    return precision, coverage


def lowest_threshold_with_precision(
    truth: BoolArray, probs: FloatArray, target: float = 0.97
) -> float:
    """The lowest threshold (>= 0.5) whose auto-tag precision reaches ``target`` (0.99 if none)."""
    for threshold in np.arange(0.5, 0.991, 0.01):
        if auto_tag(truth, probs, float(threshold))[0] >= target:
            return round(float(threshold), 2)
    return 0.99


def metrics(pred: Predictions, auto_tag_threshold: float) -> dict[str, Any]:
    per_label = {}
    f1s = []
    for j, label in enumerate(pred.labels):
        per_label[label] = row = _prf_row(pred.truth[:, j], pred.assigned[:, j])
        f1s.append(row["f1"])
    micro = _prf(pred.truth.ravel(), pred.assigned.ravel())[2]
    precision, coverage = auto_tag(pred.truth, pred.probs, auto_tag_threshold)
    return {
        "documents": len(pred.truth),
        "per_label": per_label,
        "macro_f1": round(float(np.mean(f1s)), 4),
        "micro_f1": round(micro, 4),
        "auto_tag_threshold": auto_tag_threshold,
        "auto_tag_precision": round(precision, 4),
        "auto_tag_coverage": round(coverage, 4),
        "ece": round(expected_calibration_error(pred.truth, pred.probs), 4),
        "subfields": subfield_metrics(pred),
    }


def subfield_metrics(pred: Predictions) -> dict[str, Any]:
    """Listed sub-fields against their weak labels (models/subfields.py).

    Macro-F1 averages the sub-fields with support. ECE is given over every (document, sub-field)
    pair, where unlisted zeros dominate, and over the listed pairs only: "when a listed score says
    0.7, is the document in the sub-field 7 times in 10?"
    """
    truth, probs = pred.subfield_truth, pred.subfield_probs
    listed = probs > 0
    per_subfield = {}
    f1s = []
    for k, name in enumerate(pred.subfields):
        per_subfield[name] = row = _prf_row(truth[:, k], listed[:, k])
        if row["support"]:
            f1s.append(row["f1"])
    return {
        "macro_f1": round(float(np.mean(f1s)), 4) if f1s else 0.0,
        "micro_f1": round(_prf(truth.ravel(), listed.ravel())[2], 4),
        "with_support": len(f1s),
        "ece": round(expected_calibration_error(truth, probs), 4),
        "ece_listed": round(expected_calibration_error(truth[listed], probs[listed]), 4),
        "per_subfield": per_subfield,
    }


def evaluate(
    model: Classifier, examples: Sequence[Example], auto_tag_threshold: float
) -> dict[str, Any]:
    """Metrics text-only and with IPC on labelled examples (labels from their IPC)."""
    return {
        "text_only": metrics(predict(model, examples, text_only=True), auto_tag_threshold),
        "with_ipc": metrics(predict(model, examples, text_only=False), auto_tag_threshold),
    }


def format_report(report: dict[str, Any]) -> str:
    """The table `ipwarn model evaluate` prints."""
    lines = []
    for mode, m in report.items():
        if not isinstance(m, dict) or "per_label" not in m:
            continue
        lines.append(f"== {mode.replace('_', ' ')} ({m['documents']} documents)")
        lines.append(f"{'label':<16}{'precision':>10}{'recall':>8}{'F1':>7}{'support':>9}")
        for label, row in m["per_label"].items():
            lines.append(
                f"{label:<16}{row['precision']:>10.3f}{row['recall']:>8.3f}"
                f"{row['f1']:>7.3f}{row['support']:>9}"
            )
        lines.append(
            f"macro-F1 {m['macro_f1']:.3f}   micro-F1 {m['micro_f1']:.3f}   ECE {m['ece']:.3f}"
        )
        lines.append(
            f"auto-tag threshold {m['auto_tag_threshold']:.2f}: precision "
            f"{m['auto_tag_precision']:.3f}, coverage {m['auto_tag_coverage']:.3f}"
        )
        if "subfields" in m:
            sub = m["subfields"]
            lines.append(
                f"sub-fields ({sub['with_support']} with support): macro-F1 {sub['macro_f1']:.3f}"
                f"   micro-F1 {sub['micro_f1']:.3f}   ECE {sub['ece']:.3f}"
                f" (listed pairs: {sub['ece_listed']:.3f})"
            )
    return "\n".join(lines)


__all__ = ["OTHER", "evaluate", "format_report", "metrics", "predict"]

"""Maintainer evidence: how text-only macro-F1 grows with gazette training data, and its ceiling.

Run: ``.venv/bin/python -m models.learning_curve`` (about a minute on one core; deterministic).

Why: "more labelled titles" is the obvious lever for the text model, so this measures what it
buys. The v1 recipe (TF-IDF of :func:`models.text.analyze` features, one LinearSVC per sector,
Platt scaling and per-label F1-optimal thresholds on the tuning bucket, ``other`` when no sector
is assigned) is refitted on seeded, nested subsamples of the training-bucket gazette titles (the
IPC titles always included) and scored on the held-out buckets. The TF-IDF vocabulary and IDF are
fitted once on the full training mix (label-free; only the supervised fit varies, which keeps the
run short). A log-linear fit then says how many titles a target macro-F1 would take at the
measured rate. Separately, titles that recur under different publication numbers with different
IPC show the label noise no text-only model can get past: it predicts one label set per text.
"""

from __future__ import annotations

import math
import time
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from models.classifier import _sigmoid
from models.data import (
    TEST_BUCKETS,
    TRAIN_BUCKETS,
    TUNE_BUCKETS,
    iter_split,
    read_gazette,
    read_ipc_titles,
    weak_labels,
)
from models.evaluate import f1_score
from models.text import analyze
from models.train import (
    TrainConfig,
    _fit_platt,
    _label_matrix,
    _tuned_macro_f1,
    assign_labels,
    sample_weight,
)
from warning.taxonomy import OTHER, load_taxonomy

#: shares of the training-bucket gazette titles; nested (each is a prefix of one permutation)
FRACTIONS = (1 / 8, 1 / 4, 1 / 2, 1.0)
SEED = 0
TARGET_MACRO_F1 = 0.85
#: train()'s defaults (C, min_df, IPC-title weights) with the v1 one-model-per-label recipe
CONFIG = TrainConfig(version="learning-curve", hierarchical=False)

BoolArray = npt.NDArray[np.bool_]
FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class CurvePoint:
    titles: int
    per_label: dict[str, float]
    macro_f1: float


@dataclass(frozen=True)
class LearningCurve:
    labels: list[str]
    points: list[CurvePoint]
    #: positives per label in the test buckets (steel's few make its F1 the noisiest)
    test_support: dict[str, int]


@dataclass(frozen=True)
class TitleCeiling:
    """Titles occurring under more than one publication number, and what an oracle scores."""

    groups: int
    documents: int
    disagreeing_groups: int
    oracle_macro_f1: float

    @property
    def disagreeing_share(self) -> float:
        return self.disagreeing_groups / self.groups if self.groups else 0.0


def subsample(n: int, fraction: float, seed: int = SEED) -> npt.NDArray[np.intp]:
    """The first ``int(n * fraction)`` indices of one seeded permutation of ``range(n)``.

    One permutation for every fraction, so the smaller samples are subsets of the larger: the
    curve then reflects data added, not a different draw per point.
    """
    order = np.random.default_rng(seed).permutation(n)
    return np.sort(order[: max(1, int(n * fraction))])


def log_linear_fit(sizes: Sequence[int], scores: Sequence[float]) -> tuple[float, float]:
    """Least-squares (slope per doubling, intercept) of ``score = intercept + slope * log2(size)``."""
    if len(sizes) != len(scores) or len(sizes) < 2:
        raise ValueError("need at least two (size, score) points")
    x = np.log2(np.asarray(sizes, dtype=np.float64))
    slope, intercept = np.polyfit(x, np.asarray(scores, dtype=np.float64), 1)
    return float(slope), float(intercept)


def size_for_score(slope: float, intercept: float, target: float) -> float:
    """The size at which the straight log-linear line reaches ``target`` (inf if it never does)."""
    if slope <= 0:
        return math.inf
    exponent = (target - intercept) / slope
    return math.inf if exponent > 1023 else float(2.0**exponent)


def macro_f1(
    truth: BoolArray, assigned: BoolArray, labels: Sequence[str]
) -> tuple[dict[str, float], float]:
    """Per-label F1 and their mean over ``labels`` (the columns of both matrices)."""
    per_label = {lab: f1_score(truth[:, j], assigned[:, j]) for j, lab in enumerate(labels)}
    return per_label, float(np.mean(list(per_label.values())))


def identical_title_ceiling(
    docs: Sequence[tuple[str, str, frozenset[str]]], labels: Sequence[str]
) -> TitleCeiling:
    """Label disagreement within recurring titles and the macro-F1 of a per-title oracle.

    ``docs`` are (title, publication number, label set). A group is a title seen under two or
    more publication numbers; the oracle predicts each member the group's most frequent label set
    (ties: the first seen). Macro-F1 averages over the ``labels`` that occur in those documents'
    truth or predictions (a label absent from both has no defined F1).
    """
    by_title: dict[str, list[tuple[str, frozenset[str]]]] = defaultdict(list)
    for title, number, label_set in docs:
        by_title[title].append((number, label_set))
    groups = [g for g in by_title.values() if len({number for number, _ in g}) > 1]
    truth_rows: list[frozenset[str]] = []
    pred_rows: list[frozenset[str]] = []
    disagreeing = 0
    for group in groups:
        sets = [label_set for _, label_set in group]
        disagreeing += len(set(sets)) > 1
        mode = Counter(sets).most_common(1)[0][0]
        truth_rows.extend(sets)
        pred_rows.extend([mode] * len(sets))
    documents = len(truth_rows)
    if not documents:
        return TitleCeiling(0, 0, 0, 1.0)
    truth = np.array([[lab in s for lab in labels] for s in truth_rows])
    pred = np.array([[lab in s for lab in labels] for s in pred_rows])
    used = [j for j in range(len(labels)) if truth[:, j].any() or pred[:, j].any()]
    oracle = float(np.mean([f1_score(truth[:, j], pred[:, j]) for j in used]))
    return TitleCeiling(len(groups), documents, disagreeing, oracle)


def _platt_scaled(decision: FloatArray, platt: FloatArray) -> FloatArray:
    """Platt's p = 1 / (1 + exp(a * d + b)), the form the classifier applies."""
    return _sigmoid(-(platt[:, 0] * decision + platt[:, 1]))


def learning_curve(fractions: Sequence[float] = FRACTIONS, seed: int = SEED) -> LearningCurve:
    """One held-out point per fraction of the gazette training titles (v1 text-only recipe)."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.svm import LinearSVC

    config = CONFIG
    taxonomy = load_taxonomy()
    labels = list(taxonomy.labels)
    gazette = read_gazette(config.data_dir)
    train_gazette = list(iter_split(gazette, TRAIN_BUCKETS))
    ipc_titles = read_ipc_titles(taxonomy, config.data_dir)
    tune_set = list(iter_split(gazette, TUNE_BUCKETS))
    test_set = list(iter_split(gazette, TEST_BUCKETS))
    train_set = train_gazette + ipc_titles
    weights = np.array([sample_weight(config, e) for e in train_set])
    vectorizer = TfidfVectorizer(
        analyzer=analyze, sublinear_tf=True, min_df=config.min_df, dtype=np.float32
    )
    matrix = vectorizer.fit_transform([e.text for e in train_set])
    tune_matrix = vectorizer.transform([e.text for e in tune_set])
    test_matrix = vectorizer.transform([e.text for e in test_set])
    y = _label_matrix(taxonomy, labels, train_set)
    tune_truth = _label_matrix(taxonomy, labels, tune_set)
    test_truth = _label_matrix(taxonomy, labels, test_set)
    other = labels.index(OTHER)
    n_gazette = len(train_gazette)
    points: list[CurvePoint] = []
    for fraction in fractions:
        rows = np.concatenate(
            [subsample(n_gazette, fraction, seed), np.arange(n_gazette, len(train_set))]
        )
        x, y_rows, w = matrix[rows], y[rows], weights[rows]
        tune_decision = np.zeros((len(tune_set), len(labels)))
        test_decision = np.zeros((len(test_set), len(labels)))
        for j in range(len(labels)):
            if j == other:  # assigned by rule (no sector), so its own model would go unused
                continue
            svc = LinearSVC(C=config.c, random_state=0).fit(x, y_rows[:, j], sample_weight=w)
            tune_decision[:, j] = svc.decision_function(tune_matrix)
            test_decision[:, j] = svc.decision_function(test_matrix)
        platt = _fit_platt(tune_decision, tune_truth)
        thresholds = _tuned_macro_f1(_platt_scaled(tune_decision, platt), tune_truth, labels)[1]
        assigned = assign_labels(_platt_scaled(test_decision, platt), thresholds, labels)
        per_label, macro = macro_f1(test_truth, assigned, labels)
        points.append(CurvePoint(int(len(rows) - len(ipc_titles)), per_label, macro))
    support = dict(zip(labels, test_truth.sum(axis=0).tolist(), strict=True))
    return LearningCurve(labels, points, support)


def main() -> None:
    started = time.perf_counter()
    curve = learning_curve()
    labels, points = curve.labels, curve.points
    print(
        "text-only macro-F1 vs training-bucket gazette titles (v1 recipe: 1 LinearSVC per sector, "
        f"C={CONFIG.c}; all IPC titles always in; held-out test buckets)"
    )
    print(f"{'gazette titles':>14}" + "".join(f"{lab[:8]:>9}" for lab in labels) + f"{'macro':>8}")
    for point in points:
        print(
            f"{point.titles:>14,}"
            + "".join(f"{point.per_label[lab]:>9.3f}" for lab in labels)
            + f"{point.macro_f1:>8.3f}"
        )
    print(f"{'test support':>14}" + "".join(f"{curve.test_support[lab]:>9,}" for lab in labels))
    slope, intercept = log_linear_fit([p.titles for p in points], [p.macro_f1 for p in points])
    needed = size_for_score(slope, intercept, TARGET_MACRO_F1)
    print(f"least-squares slope: {slope:+.4f} macro-F1 per doubling of gazette titles")
    print(
        f"titles for macro-F1 {TARGET_MACRO_F1}: ~{needed:,.0f} "
        f"({needed / points[-1].titles:,.0f}x the {points[-1].titles:,} used) -- an optimistic "
        "straight-line log-linear extrapolation (returns usually diminish further)"
    )
    taxonomy = load_taxonomy()
    docs = [(e.text, e.number, weak_labels(taxonomy, e.ipc)) for e in read_gazette()]
    ceiling = identical_title_ceiling(docs, labels)
    print(
        f"identical-title ceiling: {ceiling.groups:,} titles recur under different publication "
        f"numbers ({ceiling.documents:,} of {len(docs):,} gazette documents); "
        f"{ceiling.disagreeing_share:.1%} of these groups disagree on their label sets; "
        f"an oracle predicting each group's most frequent label set scores macro-F1 "
        f"{ceiling.oracle_macro_f1:.3f} on them"
    )
    print(f"({time.perf_counter() - started:.0f} s)")


if __name__ == "__main__":
    main()

"""`ipwarn model train`: fit the text model, calibrate it, tune thresholds and IPC fusion, evaluate.

Recipe (each choice measured, see docs/classifier.md):

1. TF-IDF over :func:`models.text.analyze` features (CJK char 1-3-grams, English word stems) of
   the gazette titles in the training buckets plus every IPC title (zh and en), the Chinese IPC
   titles down-weighted (they read unlike patent titles).
2. One LinearSVC per label, Platt-calibrated on the tuning bucket of gazette titles
   (``CalibratedClassifierCV(FrozenEstimator(svc))``), so a score means a probability.
3. On the tuning bucket: a per-label F1-optimal threshold, and a two-feature logistic fusion of the
   text decision with the taxonomy's IPC evidence (used whenever a document carries IPC).
4. Metrics on the held-out buckets (disjoint by publication number) go into ``metadata.json``.
"""

from __future__ import annotations

import datetime as dt
import platform
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from models.artifact import ModelParams, save_artifact
from models.classifier import Classifier
from models.data import (
    DATA_DIR,
    TEST_BUCKETS,
    TRAIN_BUCKETS,
    TUNE_BUCKETS,
    Example,
    data_hash,
    examples_hash,
    iter_split,
    read_gazette,
    read_ipc_titles,
    weak_labels,
)
from models.evaluate import (
    best_f1_threshold,
    evaluate,
    f1_score,
    lowest_threshold_with_precision,
)
from models.subfields import (
    IDENTITY,
    recalibrate,
    subfield_columns,
    subfield_decision,
    subfield_truth,
)
from models.text import analyze, analyze_with_words, cjk_matcher, normalize_text
from warning.logging import get_logger
from warning.taxonomy import OTHER, Taxonomy, load_taxonomy

log = get_logger(__name__)


@dataclass(frozen=True)
class TrainConfig:
    version: str
    data_dir: Path = DATA_DIR
    #: LinearSVC regularisation (0.3 measured best of 0.1/0.3/1.0)
    c: float = 0.3
    #: sample weight of a Chinese IPC-title example relative to a gazette title
    ipc_zh_weight: float = 0.3
    ipc_en_weight: float = 1.0
    min_df: int = 2
    #: add jieba words to the char n-grams (measured: no gain, slower; see docs/classifier.md)
    word_features: bool = False
    #: auto-tag precision the threshold is chosen for
    target_precision: float = 0.97
    #: hierarchical text model (v2): one LinearSVC per IPC class of each sector and per IPC
    #: section outside them, combined per label (measured +0.011 macro-F1, docs/classifier.md);
    #: False trains the v1 recipe (one LinearSVC per label)
    hierarchical: bool = True
    #: candidate weights of the best "other" column against a sector's; picked on the tuning bucket
    competition_grid: tuple[float, ...] = (0.0, 0.125, 0.25, 0.375, 0.5)
    #: calibrated sub-field scores (v3, models/subfields.py); False keeps v2's sector x 1.0/0.9
    subfield_head: bool = True
    #: hierarchical only: folds of the training-bucket documents (by bucket) whose out-of-fold
    #: scores join the tuning bucket for competition, calibration, thresholds and IPC fusion,
    #: 8x the tuning data (v3; with IPC 0.997 -> 1.000 macro-F1, docs/classifier.md);
    #: 0: the tuning bucket alone (v2)
    cross_fit_folds: int = 3
    #: hierarchical coefficients below this magnitude are dropped (0.02: no held-out F1 lost,
    #: artifact 4 MB instead of 56 MB)
    prune: float = 0.02


def sample_weight(config: TrainConfig, example: Example) -> float:
    """1 for a document; the configured weight for a Chinese or English IPC title."""
    if example.is_document:
        return 1.0
    return config.ipc_en_weight if example.number.startswith("IPC:en") else config.ipc_zh_weight


def assign_labels(
    probs: npt.NDArray[np.float64], thresholds: npt.NDArray[np.float64], labels: list[str]
) -> npt.NDArray[np.bool_]:
    """Labels at or above their threshold, ``other`` exactly when no sector is (as classify)."""
    assigned = probs >= thresholds
    other = labels.index(OTHER)
    assigned[:, other] = ~np.delete(assigned, other, axis=1).any(axis=1)
    return assigned


def _label_matrix(
    taxonomy: Taxonomy, labels: list[str], examples: list[Example]
) -> npt.NDArray[np.bool_]:
    return np.array([[lab in weak_labels(taxonomy, e.ipc) for lab in labels] for e in examples])


def _fit_text_model(
    config: TrainConfig,
    texts: list[str],
    y: npt.NDArray[np.bool_],
    weights: npt.NDArray[np.float64],
    tune_texts: list[str],
    tune_y: npt.NDArray[np.bool_],
) -> tuple[dict[str, int], npt.NDArray[np.float32], npt.NDArray[np.float32], Any, Any]:
    """Fit TF-IDF + one LinearSVC per label; Platt-calibrate each on the tuning bucket.

    Calibrating on held-out *gazette* titles (not cross-validated on the training mix) matters:
    the IPC-title examples have another label balance, and calibrating on them left "other"
    stuck between 0.6 and 0.8 (ECE 0.044 -> see docs/classifier.md).
    """
    from sklearn.calibration import CalibratedClassifierCV
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.frozen import FrozenEstimator
    from sklearn.svm import LinearSVC

    vectorizer = TfidfVectorizer(
        analyzer=analyze_with_words if config.word_features else analyze,
        sublinear_tf=True,
        min_df=config.min_df,
        dtype=np.float32,
    )
    matrix = vectorizer.fit_transform(texts)
    tune_matrix = vectorizer.transform(tune_texts)
    n_labels = y.shape[1]
    coef = np.zeros((matrix.shape[1], n_labels), dtype=np.float32)
    intercept = np.zeros(n_labels)
    platt = np.zeros((n_labels, 2))
    for j in range(n_labels):
        svc = LinearSVC(C=config.c).fit(matrix, y[:, j], sample_weight=weights)
        coef[:, j] = svc.coef_.ravel()
        intercept[j] = float(svc.intercept_[0])
        if tune_y[:, j].any() and not tune_y[:, j].all():
            calibrated = CalibratedClassifierCV(FrozenEstimator(svc), method="sigmoid")
            calibrated.fit(tune_matrix, tune_y[:, j])
            calibrator = calibrated.calibrated_classifiers_[0].calibrators[0]
            platt[j] = (calibrator.a_, calibrator.b_)
        else:
            platt[j] = (-2.0, 0.0)  # tuning data too small: a plain logistic squashing
    vocabulary = {str(k): int(v) for k, v in vectorizer.vocabulary_.items()}
    return vocabulary, vectorizer.idf_.astype(np.float32), coef, intercept, platt


def column_targets(
    taxonomy: Taxonomy, examples: list[Example]
) -> tuple[list[str], npt.NDArray[np.bool_]]:
    """The hierarchical model's columns and their targets, both derived from the IPC.

    A document in a sector is a positive of ``"<sector>:<IPC class>"`` for each taxonomy prefix
    it matches (``steel:C21``, ``equipment:B23``) and of ``"<sector>:*"`` (the whole sector, as
    in v1: it pools a small sector's evidence, e.g. 取向硅钢 titles filed under C21D, C22C, B21B
    and C23C alike); a document in no sector is a positive of ``"other:<IPC section>"``. These
    targets are more coherent than "equipment" (ships, robots, transformers) or "other"
    (everything else), which one linear model each had to cover.
    """
    targets: list[set[str]] = []
    for example in examples:
        hits = taxonomy.sectors_for_ipc(list(example.ipc))
        if hits:
            targets.append(
                {f"{s}:{p[:3]}" for s, prefixes in hits.items() for p in prefixes}
                | {f"{s}:*" for s in hits}
            )
        else:
            targets.append({f"{OTHER}:{symbol[:1]}" for symbol in example.ipc})
    names = sorted(set().union(*targets))
    index = {name: k for k, name in enumerate(names)}
    matrix = np.zeros((len(examples), len(names)), dtype=np.bool_)
    for i, names_i in enumerate(targets):
        matrix[i, [index[n] for n in names_i]] = True
    return names, matrix


def _fit_column_model(
    config: TrainConfig,
    texts: list[str],
    y: npt.NDArray[np.bool_],
    weights: npt.NDArray[np.float64],
) -> tuple[Any, npt.NDArray[np.float32], npt.NDArray[np.float64]]:
    """(fitted TF-IDF vectorizer, coefficients, intercepts): one LinearSVC per column, pruned
    and rounded to float16 as the artifact stores them."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.svm import LinearSVC

    vectorizer = TfidfVectorizer(
        analyzer=analyze_with_words if config.word_features else analyze,
        sublinear_tf=True,
        min_df=config.min_df,
        dtype=np.float32,
    )
    matrix = vectorizer.fit_transform(texts)
    coef = np.zeros((matrix.shape[1], y.shape[1]), dtype=np.float32)
    intercept = np.full(y.shape[1], -1.0)
    for k in range(y.shape[1]):
        if y[:, k].any() and not y[:, k].all():
            svc = LinearSVC(C=config.c, random_state=0).fit(matrix, y[:, k], sample_weight=weights)
            coef[:, k] = svc.coef_.ravel()
            intercept[k] = float(svc.intercept_[0])
    coef[np.abs(coef) < config.prune] = 0.0
    return vectorizer, coef.astype(np.float16).astype(np.float32), intercept


def _fit_columns(
    config: TrainConfig,
    texts: list[str],
    y: npt.NDArray[np.bool_],
    weights: npt.NDArray[np.float64],
) -> tuple[dict[str, int], npt.NDArray[np.float32], npt.NDArray[np.float32], Any]:
    """:func:`_fit_column_model` as the artifact stores it: vocabulary, IDF, coef, intercepts."""
    vectorizer, coef, intercept = _fit_column_model(config, texts, y, weights)
    vocabulary = {str(k): int(v) for k, v in vectorizer.vocabulary_.items()}
    return vocabulary, vectorizer.idf_.astype(np.float32), coef, intercept


def _out_of_fold_scores(
    config: TrainConfig,
    train_set: list[Example],
    column_y: npt.NDArray[np.bool_],
    weights: npt.NDArray[np.float64],
) -> tuple[list[Example], npt.NDArray[np.float64]]:
    """The training-bucket documents (shipped gazette, and stored ones with ``--from-store``) and
    their column scores from models that did not see them: each fold (bucket modulo
    ``cross_fit_folds``) scored by a fit on the rest plus every IPC title. The fold models are slightly weaker than the final one (a sixth less data), which
    only makes thresholds chosen on their scores a little conservative."""
    folds = config.cross_fit_folds
    documents = [i for i, e in enumerate(train_set) if e.is_document]
    fold_of = np.array([train_set[i].bucket % folds for i in documents])
    texts = [e.text for e in train_set]
    scores = np.zeros((len(documents), column_y.shape[1]))
    for k in range(folds):
        held = [documents[j] for j in np.flatnonzero(fold_of == k)]
        keep = np.ones(len(train_set), dtype=np.bool_)
        keep[held] = False
        vectorizer, coef, intercept = _fit_column_model(
            config,
            [t for t, kept in zip(texts, keep, strict=True) if kept],
            column_y[keep],
            weights[keep],
        )
        scores[fold_of == k] = vectorizer.transform([texts[i] for i in held]) @ coef + intercept
        log.info("classifier.cross_fit", fold=k, folds=folds, scored=len(held))
    return [train_set[i] for i in documents], scores


def _fit_platt(
    decision: npt.NDArray[np.float64], truth: npt.NDArray[np.bool_]
) -> npt.NDArray[np.float64]:
    """Platt scaling per label, (a, b) with p = 1 / (1 + exp(a * d + b)), on tuning data.

    Platt's smoothed targets ((N+ + 1) / (N+ + 2) and 1 / (N- + 2)) as scikit-learn's sigmoid
    calibration uses them: without them the rare labels' top scores come out overconfident.
    """
    from scipy.optimize import minimize

    platt = np.zeros((truth.shape[1], 2))
    for j in range(truth.shape[1]):
        positives = int(truth[:, j].sum())
        negatives = len(truth) - positives
        if not positives or not negatives:
            platt[j] = (-2.0, 0.0)  # tuning data too small: a plain logistic squashing
            continue
        target = np.where(truth[:, j], (positives + 1) / (positives + 2), 1 / (negatives + 2))
        start = np.array([-1.0, np.log((negatives + 1) / (positives + 1))])
        platt[j] = minimize(_platt_loss, start, args=(decision[:, j], target)).x
    return platt


def _platt_loss(
    ab: npt.NDArray[np.float64], d: npt.NDArray[np.float64], target: npt.NDArray[np.float64]
) -> float:
    """Cross-entropy of p = sigmoid(-(a * d + b)) against soft targets."""
    z = ab[0] * d + ab[1]
    return float(np.sum(target * np.logaddexp(0, z) + (1 - target) * np.logaddexp(0, -z)))


def _tuned_macro_f1(
    probs: npt.NDArray[np.float64], truth: npt.NDArray[np.bool_], labels: list[str]
) -> tuple[float, npt.NDArray[np.float64]]:
    """Macro-F1 on the tuning data with per-label F1-optimal thresholds, as classify assigns."""
    thresholds = np.array([best_f1_threshold(truth[:, j], probs[:, j]) for j in range(len(labels))])
    assigned = assign_labels(probs, thresholds, labels)
    return float(np.mean([f1_score(truth[:, j], assigned[:, j]) for j in range(len(labels))])), (
        thresholds
    )


def _fit_fusion(
    decision: npt.NDArray[np.float64],
    evidence: npt.NDArray[np.float64],
    truth: npt.NDArray[np.bool_],
) -> npt.NDArray[np.float64]:
    from sklearn.linear_model import LogisticRegression

    fusion = np.zeros((truth.shape[1], 3))
    for j in range(truth.shape[1]):
        if truth[:, j].all() or not truth[:, j].any():
            fusion[j] = (0.0, 8.0, -4.0)  # degenerate tuning data: trust the IPC evidence alone
            continue
        features = np.column_stack([decision[:, j], evidence[:, j]])
        lr = LogisticRegression(C=1.0).fit(features, truth[:, j])
        fusion[j] = (lr.coef_[0][0], lr.coef_[0][1], lr.intercept_[0])
    return fusion


#: tuning documents a sub-field needs by IPC before its text-model score is trusted
MIN_SUBFIELD_POSITIVES = 10
#: a listing threshold no probability reaches
NEVER = 1.01


def _fit_subfield_head(model: Classifier, tune_set: list[Example], tune_matrix: Any) -> None:
    """Platt per sub-field (its IPC-class columns -> "its IPC falls under the sub-field"), then
    the threshold from which a text-only score lists it, F1-optimal on the tuning bucket.

    Thresholds are tuned on what ``classify`` itself outputs (text only), so listing in training
    and in use cannot drift apart; keyword hits are always listed.
    """
    taxonomy, columns = model.taxonomy, model.params.columns
    assert columns is not None
    subfields = taxonomy.subfields
    decision = subfield_decision(
        model.column_scores(tune_matrix), subfield_columns(taxonomy, columns)
    )
    truth, by_ipc = subfield_truth(
        taxonomy,
        [weak_labels(taxonomy, e.ipc) for e in tune_set],
        [e.text for e in tune_set],
        [e.ipc for e in tune_set],
    )
    platt = _fit_platt(decision, by_ipc)
    # too few tuning examples to calibrate on (steel's sub-fields): keywords and IPC only
    calibrated = by_ipc.sum(axis=0) >= MIN_SUBFIELD_POSITIVES
    # raw text-only scores of every sub-field of the assigned sectors (threshold 0, no recalibration)
    model.attach_subfield_head(platt, np.zeros(len(subfields)), IDENTITY)
    listed = model.classify([e.record() for e in tune_set], text_only=True, explain=False)
    index = {(sf.sector, sf.id): k for k, sf in enumerate(subfields)}
    raw = np.zeros(truth.shape)
    hit = np.zeros(truth.shape, dtype=np.bool_)
    for i, (result, example) in enumerate(zip(listed, tune_set, strict=True)):
        normalized = normalize_text(example.text)
        for item in result.subfields:
            k = index[item["sector"], item["subfield"]]
            raw[i, k] = item["score"]
            hit[i, k] = item["subfield"] in model.keyword_subfields(item["sector"], normalized)
    # one pooled fit per kind; left as it is where tuning data has too few pairs of that kind
    recalibration = np.vstack(
        [
            _fit_platt(_logit(raw[kind])[:, None], truth[kind][:, None])[0]
            if truth[kind].sum() >= MIN_SUBFIELD_POSITIVES
            else IDENTITY[row]
            for row, kind in enumerate((hit, (raw > 0) & ~hit & calibrated))
        ]
    )
    # a keyword hit is listed whatever the threshold: treat it as probability 1 while tuning
    probs = np.where(hit, 1.0, 0.0)
    scored = (raw > 0) & ~hit
    probs[scored] = recalibrate(raw[scored], False, recalibration)
    thresholds = [
        best_f1_threshold(truth[:, k], probs[:, k]) if calibrated[k] else NEVER
        for k in range(len(subfields))
    ]
    model.attach_subfield_head(platt, np.array(thresholds), recalibration)


def _logit(p: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    p = np.clip(p, 1e-4, 1 - 1e-4)
    return np.asarray(np.log(p / (1 - p)))


def library_versions() -> dict[str, str]:
    from importlib.metadata import version

    return {
        name: version(name) for name in ("scikit-learn", "numpy", "scipy", "jieba", "pyahocorasick")
    } | {"python": platform.python_version()}


def train(
    config: TrainConfig,
    out_dir: Path,
    taxonomy: Taxonomy | None = None,
    extra: Sequence[Example] = (),
) -> tuple[Path, dict[str, Any]]:
    """Train, tune, evaluate and save one version; returns (artifact folder, metadata).

    ``extra`` are more labelled documents (``ipwarn model train --from-store``: what this
    installation crawled, of later years than the shipped gazette); they are split into the same
    train / tune / test buckets by publication number, and their held-out part is also reported
    on its own.
    """
    started = time.perf_counter()
    taxonomy = taxonomy or load_taxonomy()
    labels = list(taxonomy.labels)
    gazette = read_gazette(config.data_dir) + list(extra)
    ipc_titles = read_ipc_titles(taxonomy, config.data_dir)
    train_set = list(iter_split(gazette, TRAIN_BUCKETS)) + ipc_titles
    tune_set = list(iter_split(gazette, TUNE_BUCKETS))
    test_set = list(iter_split(gazette, TEST_BUCKETS))
    weights = np.array([sample_weight(config, e) for e in train_set])
    y = _label_matrix(taxonomy, labels, train_set)
    tune_truth = _label_matrix(taxonomy, labels, tune_set)
    columns: list[str] | None = None
    if config.hierarchical:
        columns, column_y = column_targets(taxonomy, train_set)
        vocabulary, idf, coef, intercept = _fit_columns(
            config, [e.text for e in train_set], column_y, weights
        )
        platt = np.zeros((len(labels), 2))
    else:
        vocabulary, idf, coef, intercept, platt = _fit_text_model(
            config, [e.text for e in train_set], y, weights, [e.text for e in tune_set], tune_truth
        )
    n = len(labels)
    params = ModelParams(
        version=config.version,
        labels=labels,
        vocabulary=vocabulary,
        idf=idf,
        coef=coef,
        intercept=intercept,
        platt=platt,
        thresholds=np.full(n, 0.5),
        fusion=np.zeros((n, 3)),
        fusion_thresholds=np.full(n, 0.5),
        metadata={},
        word_features=config.word_features,
        matcher=None if config.word_features else cjk_matcher(vocabulary),
        columns=columns,
    )
    model = Classifier(params, taxonomy)
    # tuning: competition, calibration, thresholds and IPC fusion on scores of titles the model
    # that made them never saw: the tuning bucket, plus out-of-fold training titles (v4)
    tune_matrix = model.features([e.text for e in tune_set])
    tuning: dict[str, float] = {}
    calibration_set = tune_set
    if config.hierarchical:
        scores = model.column_scores(tune_matrix)
        if config.cross_fit_folds > 1:
            oof_set, oof_scores = _out_of_fold_scores(config, train_set, column_y, weights)
            calibration_set = oof_set + tune_set
            scores = np.vstack([oof_scores, scores])
            tune_truth = _label_matrix(taxonomy, labels, calibration_set)
        best = (-1.0, 0.0)
        for competition in config.competition_grid:
            params.competition = competition
            decision = model.label_decision(scores)[0]
            params.platt = _fit_platt(decision, tune_truth)
            f1 = _tuned_macro_f1(model.text_probabilities(decision), tune_truth, labels)[0]
            tuning[str(competition)] = round(f1, 4)
            best = max(best, (f1, competition))
        params.competition = best[1]
        params.platt = _fit_platt(model.label_decision(scores)[0], tune_truth)
    decision = (
        model.label_decision(scores)[0] if config.hierarchical else model.decision(tune_matrix)
    )
    text_probs = model.text_probabilities(decision)
    params.thresholds = np.array(
        [best_f1_threshold(tune_truth[:, j], text_probs[:, j]) for j in range(n)]
    )
    evidence = np.array([model.ipc_evidence(e.ipc)[0] for e in calibration_set]).reshape(-1, n)
    params.fusion = _fit_fusion(decision, evidence, tune_truth)
    fused = np.array(
        [model.fused_probabilities(decision[i], evidence[i]) for i in range(len(calibration_set))]
    )
    params.fusion_thresholds = np.array(
        [best_f1_threshold(tune_truth[:, j], fused.reshape(-1, n)[:, j]) for j in range(n)]
    )
    if config.hierarchical and config.subfield_head:
        _fit_subfield_head(model, tune_set, tune_matrix)
    auto_tag_threshold = lowest_threshold_with_precision(
        tune_truth, text_probs, config.target_precision
    )
    report = evaluate(model, test_set, auto_tag_threshold)
    store_test = [e for e in test_set if e.origin == "store"]
    params.metadata = {
        "version": config.version,
        "created_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "data_sha256": data_hash(config.data_dir),
        "store_documents": len(extra),
        "store_sha256": examples_hash(list(extra)) if extra else None,
        "taxonomy_version": taxonomy.version,
        "libraries": library_versions(),
        "config": {
            k: (str(v) if isinstance(v, Path) else v)
            for k, v in config.__dict__.items()
            if k != "data_dir"
        },
        "examples": {
            "train": len(train_set),
            "tune": len(tune_set),
            "calibration": len(calibration_set),
            "test": len(test_set),
            "ipc_titles": len(ipc_titles),
        },
        "features": len(vocabulary),
        "columns": columns or labels,
        "competition": params.competition,
        "tuning_macro_f1_by_competition": tuning,
        "labels": labels,
        "thresholds": dict(zip(labels, params.thresholds.round(3).tolist(), strict=True)),
        "fusion_thresholds": dict(
            zip(labels, params.fusion_thresholds.round(3).tolist(), strict=True)
        ),
        "subfield_thresholds": (
            None
            if params.subfield_thresholds is None
            else dict(
                zip(
                    params.subfields or [],
                    params.subfield_thresholds.round(3).tolist(),
                    strict=True,
                )
            )
        ),
        "auto_tag_threshold": auto_tag_threshold,
        "metrics": report,
        "metrics_store": evaluate(model, store_test, auto_tag_threshold) if store_test else None,
        "train_seconds": round(time.perf_counter() - started, 1),
    }
    folder = save_artifact(params, out_dir)
    log.info(
        "classifier.trained",
        version=config.version,
        folder=str(folder),
        seconds=params.metadata["train_seconds"],
    )
    return folder, params.metadata

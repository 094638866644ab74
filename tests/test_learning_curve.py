"""The learning-curve module's pure helpers on tiny synthetic input (no training)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from models.learning_curve import (
    identical_title_ceiling,
    log_linear_fit,
    size_for_score,
    subsample,
)
from models.train import assign_labels


def test_log_linear_fit_and_extrapolation() -> None:
    sizes = [100, 200, 400, 800]
    scores = [0.50, 0.53, 0.56, 0.59]
    slope, intercept = log_linear_fit(sizes, scores)
    assert slope == pytest.approx(0.03)
    assert intercept + slope * math.log2(100) == pytest.approx(0.50)
    assert size_for_score(slope, intercept, 0.65) == pytest.approx(3200)
    # least squares, not the last two points: a noisy last point moves the slope only partly
    noisy_slope, _ = log_linear_fit(sizes, [0.50, 0.53, 0.56, 0.62])
    assert 0.03 < noisy_slope < 0.06
    assert size_for_score(0.0, 0.7, 0.85) == math.inf
    assert size_for_score(-0.01, 0.7, 0.85) == math.inf
    with pytest.raises(ValueError):
        log_linear_fit([100], [0.5])


def test_subsample_is_seeded_nested_and_sized() -> None:
    quarter, half = subsample(1000, 0.25), subsample(1000, 0.5)
    assert len(quarter) == 250 and len(half) == 500
    assert set(quarter) <= set(half)
    assert np.array_equal(quarter, subsample(1000, 0.25))
    assert not np.array_equal(quarter, subsample(1000, 0.25, seed=1))
    assert np.array_equal(subsample(7, 1.0), np.arange(7))


def test_identical_title_ceiling() -> None:
    steel, other, chem = frozenset({"steel"}), frozenset({"other"}), frozenset({"chemicals"})
    docs = [
        ("一种钢", "CN1", steel),
        ("一种钢", "CN2", steel),
        ("一种钢", "CN3", other),  # disagrees with its group
        ("一种涂料", "CN4", chem),
        ("一种涂料", "CN5", chem),
        ("一种连接器", "CN6", other),  # occurs once: no group
        ("一种阀门", "CN7", steel),  # same publication number twice: no group
        ("一种阀门", "CN7", other),
    ]
    ceiling = identical_title_ceiling(docs, ["steel", "equipment", "chemicals", "other"])
    assert (ceiling.groups, ceiling.documents, ceiling.disagreeing_groups) == (2, 5, 1)
    assert ceiling.disagreeing_share == pytest.approx(0.5)
    # oracle: steel F1 0.8 (2 tp, 1 fp), other 0.0, chemicals 1.0; equipment absent -> left out
    assert ceiling.oracle_macro_f1 == pytest.approx(0.6)
    assert identical_title_ceiling(docs[5:6], ["steel", "other"]).groups == 0


def test_assign_gives_other_only_without_a_sector() -> None:
    labels = ["steel", "chemicals", "other"]
    probs = np.array([[0.9, 0.1, 0.9], [0.2, 0.3, 0.1], [0.6, 0.7, 0.0]])
    assigned = assign_labels(probs, np.array([0.5, 0.5, 0.5]), labels)
    assert assigned.tolist() == [
        [True, False, False],
        [False, False, True],
        [True, True, False],
    ]

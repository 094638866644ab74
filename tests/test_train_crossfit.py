"""Cross-fitting in training: calibration scores come from models that never saw the title."""

from __future__ import annotations

import numpy as np

from models.data import Example
from models.train import TrainConfig, _fit_column_model, _out_of_fold_scores, column_targets
from warning.taxonomy import load_taxonomy


def _examples() -> list[Example]:
    steel = [
        Example(f"CN{i}A", f"一种钢板{i}的轧制方法", ("C21D1/00",), "gazette") for i in range(30)
    ]
    other = [
        Example(f"CN{i}B", f"一种数据{i}处理装置", ("G06F3/00",), "gazette") for i in range(30)
    ]
    # a steel title whose words occur nowhere else: only a model that saw it can know them
    odd = Example("CN999A", "鹦鹉螺纹饰工艺", ("C21D1/00",), "gazette")
    ipc_title = Example("IPC:zh:C21D", "钢的热处理", ("C21D",), "ipc_title")
    return [*steel, *other, odd, ipc_title]


def test_out_of_fold_scores_come_from_models_that_did_not_see_the_title():
    taxonomy = load_taxonomy()
    train_set = _examples()
    columns, y = column_targets(taxonomy, train_set)
    weights = np.ones(len(train_set))
    config = TrainConfig(version="t", min_df=1, cross_fit_folds=3)
    scored, oof = _out_of_fold_scores(config, train_set, y, weights)
    assert [e.origin for e in scored] == ["gazette"] * 61  # IPC titles are never scored
    odd = [e.number for e in scored].index("CN999A")
    steel = columns.index("steel:*")
    vectorizer, coef, intercept = _fit_column_model(config, [e.text for e in train_set], y, weights)
    in_sample = vectorizer.transform(["鹦鹉螺纹饰工艺"]) @ coef + intercept
    # a fit that saw the title scores it 0.50 here; out of fold, its words are unknown (0.11)
    assert in_sample[0, steel] > oof[odd, steel] + 0.2
    assert oof[0, steel] > 0.5  # an ordinary steel title is still recognised out of fold

"""The evaluation on re-dated real 2019 gazette records reports what the forecasts are worth."""

from __future__ import annotations

import gzip
import json
from importlib import resources

from warning.forecast.evaluate import evaluate, load_fields
from warning.taxonomy import load_taxonomy


def test_fields_are_the_real_weekly_volumes_of_the_2019_gazette():
    fields = {f.label: f for f in load_fields()}
    pool = resources.files("models").joinpath("data/gazette_2019.jsonl.gz")
    steel = sum(
        "steel" in load_taxonomy().sectors_for_ipc(json.loads(line)["ipc"])
        for line in gzip.decompress(pool.read_bytes()).decode().splitlines()
    )
    assert fields["steel"].volume == steel
    assert len(fields) == 10 and sum("/" in label for label in fields) == 5
    # applicant origins are real: some but not most records have a foreign first applicant
    share = fields["equipment"].foreign.mean()
    assert 0.01 < share < 0.5


def test_evaluation_detects_injected_changes_without_false_alarms():
    result = evaluate(replications=1, allow_ets=False, only=("steel", "minerals"))
    assert [f["field"] for f in result["fields"]] == ["steel", "minerals"]
    pubs = result["accuracy"]["publications"]
    assert pubs["forecasts"] > 0 and pubs["mase"] is not None
    assert 0.8 <= pubs["coverage95"] <= 1.0 and pubs["coverage80"] <= pubs["coverage95"]
    assert result["detection"]["step/publications/4w"]["rate"] == 1.0
    assert result["detection"]["foreign_surge/foreign_share/4w"]["rate"] == 1.0
    assert result["false_alarms"]["steady/publications"]["rate"] <= 0.1
    assert result["false_alarms"]["step/publications/before"]["rate"] == 0.0

"""The lapse-probability model of `ipwarn expiring` on real records with a known hazard.

Store: the real CNIPA 2019 gazette records of ``tests/fixtures/rules/gazette_sample.tsv`` turned
into grants (numbers re-suffixed B/U, see :func:`tests.forecast_support.granted_record`) and
re-dated: filing dates spread over 2008-2021 (a seeded generator), grant published 2.5 years
(invention) or 1 year (utility model) after filing. Each fee anniversary ``k`` after the grant is
a draw with the known hazard ``logit h = -4.2 + 0.25 k (+ 0.5 for a utility model)``; a lapse is
stored as a CF01 (未缴年费终止) event dated on the anniversary, and nothing after it.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import random

import numpy as np

from tests.forecast_support import granted_record, ingest, sample_rows
from tests.rules_support import run_cli, use_store
from warning.forecast.legal import MIN_LAPSE_EVENTS, add_years, expiry_date
from warning.records import LegalEventRecord
from warning.store.engine import Store

AS_OF = dt.date(2026, 12, 1)


def true_hazard(k: int, kind: str) -> float:
    return 1.0 / (1.0 + math.exp(-(-4.2 + 0.25 * k + (0.5 if kind == "U" else 0.0))))


def lapse_store_records(n: int, seed: int = 16):
    rng = random.Random(seed)
    records = []
    for i, row in enumerate(sample_rows()[:n]):
        kind = "B" if i % 2 == 0 else "U"
        filed = dt.date(2008, 1, 1) + dt.timedelta(days=rng.randrange(14 * 365))
        granted = filed + dt.timedelta(days=913 if kind == "B" else 365)
        if granted > AS_OF:
            continue
        expiry = expiry_date(kind, filed)
        assert expiry is not None
        events = []
        k = 1
        while (day := add_years(filed, k)) <= min(AS_OF, expiry):
            if day > granted and rng.random() < true_hazard(k, kind):
                events.append(LegalEventRecord(code="CF01", date=day))
                break
            k += 1
        records.append(granted_record(row, kind, filed, events, published=granted))
    return records


def _expiring(store, tmp_path, monkeypatch, capsys, *extra):
    use_store(monkeypatch, store, tmp_path)
    args = ["expiring", "--months", "12", "--as-of", AS_OF.isoformat(), *extra]
    code, out, err = run_cli(args, capsys)
    assert code == 0, err
    return out


def test_lapse_model_recovers_the_hazard_and_is_calibrated(
    store: Store, tmp_path, monkeypatch, capsys
):
    records = lapse_store_records(1400)
    ingest(store, records)
    result = json.loads(_expiring(store, tmp_path, monkeypatch, capsys, "--json"))
    model = result["lapse_model"]
    assert model["available"] is True, model["reason"]
    assert model["fit_events"] >= MIN_LAPSE_EVENTS
    assert model["coefficients"]["kind_U"] > 0  # utility models lapse more often

    fees = [i for i in result["items"] if i["event"] == "fee_anniversary"]
    assert len(fees) > 300
    assert all(i["lapse_probability_12m"] is not None for i in fees)
    predicted = np.array([i["lapse_probability_12m"] for i in fees])
    truth = np.array([true_hazard(i["fee_year"] - 1, i["kind"]) for i in fees])
    # the ordering: older rights and utility models are riskier, as in the true hazard
    assert np.corrcoef(np.argsort(np.argsort(predicted)), np.argsort(np.argsort(truth)))[0, 1] > 0.9
    assert float(np.mean(np.abs(predicted - truth))) < 0.03

    calibration = model["calibration"]
    assert calibration["available"] is True
    deciles = calibration["deciles"]
    assert len(deciles) == 10 and sum(d["rights"] for d in deciles) == calibration["rights"]
    assert deciles[-1]["observed"] > deciles[0]["observed"] + 0.1
    assert calibration["calibration_error"] < 0.05
    assert abs(calibration["predicted_rate"] - calibration["observed_rate"]) < 0.03

    text = _expiring(store, tmp_path, monkeypatch, capsys)
    assert "lapse 12m" in text and "risk decile 10" in text and "back-test" in text


def test_lapse_model_not_available_below_the_minimum(store: Store, tmp_path, monkeypatch, capsys):
    records = lapse_store_records(300)
    lapses = sum(1 for r in records if r.legal_events)
    assert 0 < lapses < MIN_LAPSE_EVENTS
    ingest(store, records)
    result = json.loads(_expiring(store, tmp_path, monkeypatch, capsys, "--json"))
    model = result["lapse_model"]
    assert model["available"] is False and model["events"] == lapses
    assert f"holds {lapses} terminations" in model["reason"] and "not available" in model["reason"]
    assert all(i["lapse_probability_12m"] is None for i in result["items"])

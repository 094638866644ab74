"""The dispute-prone field index on real equipment records with injected invalidations."""

from __future__ import annotations

import datetime as dt
import json

from tests.forecast_support import ingest, redated, sector_rows
from tests.rules_support import run_cli, use_store
from warning.forecast.dispute import MIN_DOCUMENTS, WEIGHTS
from warning.forecast.series import main_group
from warning.records import LegalEventRecord
from warning.store.engine import Store

FIRST_MONDAY = dt.date(2026, 1, 5)
GROUP = "B07B1/00"  # screening machines: the group the invalidation requests hit


def test_invalidations_put_their_group_on_top_with_components_shown(
    store: Store, tmp_path, monkeypatch, capsys
):
    records = redated(sector_rows("equipment"), [20] * 30, FIRST_MONDAY)
    hit = 0
    for i, record in enumerate(records):
        if GROUP in {main_group(s) for s in record.ipc} and hit < 8:
            event = LegalEventRecord(
                code="IW01", date=record.publication_date + dt.timedelta(days=30)
            )
            records[i] = record.model_copy(update={"legal_events": [event]})
            hit += 1
    assert hit == 8
    ingest(store, records)
    use_store(monkeypatch, store, tmp_path)
    code, out, err = run_cli(["disputes", "--json"], capsys)
    assert code == 0, err
    result = json.loads(out)
    fields = result["fields"]
    assert all(f["documents"] >= MIN_DOCUMENTS for f in fields)
    assert abs(sum(result["weights"].values()) - 1) < 1e-9
    by_key = {(f["sector"], f["subfield"], f["ipc"]): f for f in fields}
    group = by_key[("equipment", None, GROUP)]
    sector = by_key[("equipment", None, None)]
    assert (
        group["components"]["invalidations"]["value"]
        > sector["components"]["invalidations"]["value"]
        > 0
    )
    assert group["components"]["invalidations"]["score"] == 1.0
    assert set(group["components"]) == set(WEIGHTS)
    assert group["index"] > sector["index"]
    assert fields.index(group) < fields.index(sector)
    untouched = [f for f in fields if f["components"]["invalidations"]["value"] == 0]
    assert untouched and all(f["components"]["invalidations"]["score"] == 0 for f in untouched)

    code, text, _ = run_cli(["disputes", "--top", "3"], capsys)
    assert code == 0 and "invalidations" in text and "score" in text and "index" in text

"""Statutory expiry dates, annual-fee anniversaries and `ipwarn expiring` on real records."""

from __future__ import annotations

import datetime as dt
import json

from tests.forecast_support import granted_record, ingest, sector_rows
from tests.rules_support import run_cli, use_store
from warning.forecast.legal import add_years, expiry_date
from warning.records import LegalEventRecord
from warning.store.engine import Store
from warning.store.models import Enterprise, Subscription

AS_OF = dt.date(2026, 12, 1)


def test_statutory_terms():
    assert expiry_date("B", dt.date(2006, 12, 20)) == dt.date(2026, 12, 19)
    assert expiry_date("U", dt.date(2016, 7, 12)) == dt.date(2026, 7, 11)
    assert expiry_date("S", dt.date(2021, 5, 31)) == dt.date(2031, 5, 30)
    assert expiry_date("S", dt.date(2021, 6, 1)) == dt.date(2036, 5, 31)
    assert expiry_date("A", dt.date(2020, 1, 1)) is None  # an application has no term yet
    assert add_years(dt.date(2016, 2, 29), 10) == dt.date(2026, 2, 28)


def test_expiring_lists_terms_and_fee_anniversaries_in_scope(
    store: Store, tmp_path, monkeypatch, capsys
):
    rows = sector_rows("equipment")
    records = [
        # utility model filed 2016-12-20: term ends 2026-12-19 (inside 3 months)
        granted_record(rows[0], "U", dt.date(2016, 12, 20)),
        # invention filed 2015-01-15: 12th anniversary 2027-01-15 opens protection year 13
        granted_record(rows[1], "B", dt.date(2015, 1, 15)),
        # lapsed for non-payment in 2025: not in force, never listed
        granted_record(
            rows[2],
            "U",
            dt.date(2017, 1, 10),
            [LegalEventRecord(code="CF01", date=dt.date(2025, 3, 1))],
        ),
        # invention filed in March: its anniversary is outside the window
        granted_record(rows[3], "B", dt.date(2018, 3, 20)),
    ]
    ingest(store, records)
    with store.session() as session:
        session.add(Enterprise(id="ent1", name="鞍山某装备公司", recipients=["a@example.com"]))
        session.flush()
        session.add(
            Subscription(
                enterprise_id="ent1",
                name="default",
                scope={"ipc": ["Z99"], "own_patents": [records[1].number]},
            )
        )
    use_store(monkeypatch, store, tmp_path)
    code, out, err = run_cli(
        ["expiring", "--months", "3", "--sector", "equipment", "--as-of", "2026-12-01", "--json"],
        capsys,
    )
    assert code == 0, err
    result = json.loads(out)
    assert result["until"] == "2027-03-01"
    got = [(i["number"], i["event"], i["date"]) for i in result["items"]]
    assert (records[0].number, "expiry", "2026-12-19") in got
    assert (records[0].number, "fee_anniversary", "2026-12-20") not in got  # past its term
    fee = next(i for i in result["items"] if i["number"] == records[1].number)
    assert (fee["event"], fee["date"], fee["fee_year"], fee["grace_until"]) == (
        "fee_anniversary",
        "2027-01-15",
        13,
        "2027-07-15",
    )
    assert records[2].number not in {n for n, _, _ in got}
    assert records[3].number not in {n for n, _, _ in got}
    assert result["lapse_model"]["available"] is False
    assert "not available" in result["lapse_model"]["reason"]

    # the enterprise's scope: only its own patent (its IPC scope matches nothing)
    code, out, _ = run_cli(
        ["expiring", "--months", "3", "--enterprise", "ent1", "--as-of", "2026-12-01"], capsys
    )
    assert code == 0
    assert records[1].number in out and "[own]" in out and records[0].number not in out

    code, _, err = run_cli(["expiring", "--enterprise", "nobody"], capsys)
    assert code == 2 and "--enterprise" in err
    code, _, err = run_cli(["expiring", "--as-of", "2026-13-01"], capsys)
    assert code == 2 and "--as-of" in err

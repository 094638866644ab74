"""The digest's outlook on real records re-dated into weekly bulletins (tests/forecast_support)."""

from __future__ import annotations

import datetime as dt

from tests.conftest import settings_for
from tests.forecast_support import ingest, record_of, redated, sector_rows
from tests.test_digest import _pdf_text
from tests.test_forecast import FIRST_MONDAY, STEADY, SURGE
from warning.config import Settings
from warning.digest.service import build_digest
from warning.digest.weeks import IsoWeek
from warning.store.engine import Store


def test_digest_shows_forecasts_flags_expiries_and_disputes(store: Store, settings: Settings):
    rows = sector_rows("equipment")
    records = redated(rows, STEADY + SURGE, FIRST_MONDAY)
    week = IsoWeek.of(FIRST_MONDAY).shift(len(STEADY) + len(SURGE) - 1)
    # a real utility model whose ten-year term ends six weeks after the digest week
    filed = week.sunday + dt.timedelta(weeks=6) - dt.timedelta(days=3652) + dt.timedelta(days=1)
    granted = record_of(rows[-1], dt.date(2019, 7, 12)).model_copy(
        update={"number": "CN209999999U", "kind": "U", "application_date": filed}
    )
    ingest(store, [*records, granted])
    built = build_digest(store, settings_for(store, settings), week)
    outlook = built.content["outlook"]
    assert outlook["as_of"] == str(week)
    equipment = next(s for s in outlook["sectors"] if s["id"] == "equipment")
    assert equipment["status"] == "ok" and equipment["flag"] == "emerging"
    assert len(equipment["forecast"]) == 12
    assert all(s["forecast"] == [] for s in outlook["sectors"] if s["status"] != "ok")
    assert any(
        f["label"] == "equipment" and f["measure"] == "publications" and f["flag"] == "emerging"
        for f in outlook["flagged"]
    )
    assert [e["number"] for e in outlook["expiries"]["items"]] == ["CN209999999U"]
    assert outlook["expiries"]["by_sector"]["equipment"] == 1
    assert outlook["disputes"] and "invalidations" in outlook["disputes"][0]["components"]
    html = built.html_path.read_text(encoding="utf-8")
    assert 'alt="重点领域公开量预测"' in html and "易发纠纷领域前十" in html
    assert "CN209999999U" in html and "新兴" in html
    text = _pdf_text(built.pdf_path)
    assert "趋势预测" in text and "易发纠纷领域前十" in text and "CN209999999U" in text

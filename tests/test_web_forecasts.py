"""Forecast and indicator pages, their JSON twins, and GET /api/v1/forecasts, /api/v1/indicators."""

from __future__ import annotations

from tests.forecast_support import ingest, redated, sector_rows
from tests.test_forecast import FIRST_MONDAY, STEADY, SURGE
from tests.web_support import api_token, make_web
from warning.digest.weeks import IsoWeek
from warning.store.engine import Store


def test_forecasts_and_indicators_in_console_and_api(store: Store, settings):
    ingest(store, redated(sector_rows("equipment"), STEADY + SURGE, FIRST_MONDAY))
    web = make_web(store, settings)
    email = web.user("bureau@ip.anshan.example.cn", "bureau")
    client = web.login(email)
    last = IsoWeek.of(FIRST_MONDAY).shift(len(STEADY) + len(SURGE) - 1)

    page = client.get("/forecasts")
    assert page.status_code == 200 and "趋势预测" in page.text and "新兴" in page.text
    twin = client.get("/forecasts.json").json()
    assert twin["as_of"] == str(last)
    assert any(s["label"] == "equipment" and s["flag"] == "emerging" for s in twin["series"])
    assert all(s["label"].count("/") < 2 for s in twin["series"])  # no IPC groups by default
    bad = client.get("/forecasts.json?as_of=2026-47")
    assert bad.status_code == 422 and bad.json()["fields"][0]["field"] == "as_of"

    token = api_token(web, email)
    headers = {"Authorization": f"Bearer {token}"}
    api = client.get("/api/v1/forecasts?sector=equipment&weeks=4", headers=headers)
    assert api.status_code == 200
    body = api.json()
    pubs = next(
        s
        for s in body["series"]
        if (s["subfield"], s["ipc"], s["measure"]) == (None, None, "publications")
    )
    assert pubs["flag"] == "emerging" and len(pubs["forecast"]) == 4
    assert set(pubs) == {
        "sector", "subfield", "ipc", "measure", "status", "model", "history_weeks",
        "history", "forecast", "flag", "reason",
    }  # fmt: skip
    assert client.get("/api/v1/forecasts").status_code == 401  # no token: no answer

    year = FIRST_MONDAY.year
    ind = client.get(f"/api/v1/indicators?year={year}&region=辽宁", headers=headers)
    assert ind.status_code == 200
    data = ind.json()
    assert data["region"] == "辽宁" and data["since"] == f"{year}-01-01"
    assert set(data["applicant_types"]) == {
        "enterprise",
        "university",
        "institute",
        "individual",
        "other",
    }
    assert sum(data["documents"].values()) > 0
    html = client.get(f"/indicators?year={year}&region=辽宁")
    assert html.status_code == 200 and "战略目标" in html.text and "企业专利申请量" in html.text
    assert client.get("/indicators.json?since=2026-13-01&until=2026-12-31").status_code == 422

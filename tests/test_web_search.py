"""The console's search and screening pages and the /api/v1/search and /api/v1/screen API."""

from __future__ import annotations

import datetime as dt

import pytest

from tests.search_support import EVENTS, gazette_rows, ingest_gazette
from tests.web_support import csrf_of, make_web
from warning.records import DocumentRecord
from warning.search.index import index_pending
from warning.store.ingest import ingest_document
from warning.store.models import utcnow
from warning.web.users import issue_token

HIT_KEYS = {
    "number", "title", "applicants", "ipc", "sectors", "publication_date", "legal_status",
    "score", "matched_terms",
}  # fmt: skip


@pytest.fixture
def web(store, settings):
    ingest_gazette(store, 300)
    with store.session() as session:
        ingest_document(
            session,
            DocumentRecord(
                office="CN",
                number="CN209888888U",
                kind="U",
                title="一种油电热风循环流化床<img src=x onerror=alert(1)>炒锅",
            ),
        )
    index_pending(store)
    web = make_web(store, settings)
    web.enterprise("ent-a")
    for email, role, ent in (
        ("ent@a.example.cn", "enterprise", "ent-a"),
        ("bureau@ipo.example.cn", "bureau", None),
        ("expert@ipo.example.cn", "expert", None),
    ):
        web.user(email, role, ent)
    return web


def _token(web, email: str) -> dict[str, str]:
    with web.store.session() as session:
        _, raw = issue_token(session, email, "test", actor="test", now=utcnow())
    return {"Authorization": f"Bearer {raw}"}


def test_api_search_matches_the_cli_json(web, capsys, monkeypatch, tmp_path) -> None:
    import json

    from tests.rules_support import run_cli, use_store

    client = web.client()
    headers = _token(web, "ent@a.example.cn")
    response = client.get(
        "/api/v1/search", params={"query": "钢筋 OR 电机", "limit": 5}, headers=headers
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) == {"total", "hits"} and body["hits"]
    assert all(set(h) == HIT_KEYS for h in body["hits"])
    use_store(monkeypatch, web.store, tmp_path)
    code, out, _ = run_cli(["search", "钢筋 OR 电机", "--limit", "5", "--json"], capsys)
    assert code == 0 and json.loads(out) == body
    assert client.get("/api/v1/search", params={"query": "钢筋"}).status_code == 401


def test_api_search_bad_query_is_422_with_the_field(web) -> None:
    response = web.client().get(
        "/api/v1/search",
        params={"query": "钢筋 AND (电机"},
        headers=_token(web, "expert@ipo.example.cn"),
    )
    assert response.status_code == 422
    body = response.json()
    assert body["fields"][0]["field"] == "query" and "at character" in body["fields"][0]["message"]
    bad_kind = web.client().get(
        "/api/v1/search",
        params={"query": "钢筋", "kind": "Z"},
        headers=_token(web, "expert@ipo.example.cn"),
    )
    assert bad_kind.status_code == 422 and bad_kind.json()["fields"][0]["field"] == "kind"


def test_api_screen(web) -> None:
    rows = gazette_rows(300)
    assert EVENTS[1][0][0] == "CF01"
    text = f"{rows[1]['title']}。{rows[13]['title']}。"
    client = web.client()
    headers = _token(web, "bureau@ipo.example.cn")
    response = client.post("/api/v1/screen", json={"text": text}, headers=headers)
    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) == {"query", "review", "free_to_use"}
    assert rows[1]["number"] in [h["number"] for h in body["free_to_use"]]
    assert all(set(h) == HIT_KEYS | {"similarity", "overlap_terms"} for h in body["review"])
    unknown = client.post("/api/v1/screen", json={"patent": "CN999999999A"}, headers=headers)
    assert (
        unknown.status_code == 422 and "not in the store" in unknown.json()["fields"][0]["message"]
    )
    both = client.post("/api/v1/screen", json={"patent": "CN1A", "text": "x"}, headers=headers)
    assert both.status_code == 422
    # what no patent number holds (a NUL byte PostgreSQL refuses, LIKE wildcards) is a 422
    # naming the field, never a server error
    for junk, why in (("CN1\x00A", "NUL"), ("%", "not a patent number"), ("CN_1%", "not a")):
        bad = client.post("/api/v1/screen", json={"patent": junk}, headers=headers)
        assert bad.status_code == 422, (junk, bad.text)
        problem = bad.json()["fields"][0]
        assert problem["field"] == "patent" and why in problem["message"]


def test_search_page_escapes_crawled_text_and_has_a_json_twin(web) -> None:
    client = web.login("ent@a.example.cn")
    blank = {"sector": "", "subfield": "", "ipc": "", "since": "", "until": "", "status": ""}
    page = client.get("/search", params={"query": "流化床", "kind": "U", **blank})
    assert page.status_code == 200
    assert "<img src=x" not in page.text and "&lt;img src=x onerror=alert(1)&gt;" in page.text
    assert "<mark>流化床</mark>" in page.text
    twin = client.get("/search.json", params={"query": "流化床", "kind": "U"}).json()
    assert twin["total"] >= 1 and all(h["number"].endswith("U") for h in twin["hits"])
    bad_date = client.get("/search", params={"query": "钢筋", "since": "2019-13-01"})
    assert bad_date.status_code == 422 and "since" in bad_date.text
    bad = client.get("/search", params={"query": "(钢筋"})
    assert bad.status_code == 422 and "at character" in bad.text
    assert "专利检索" in client.get("/").text  # in the menu


def test_screen_page_and_report_download(web) -> None:
    client = web.login("expert@ipo.example.cn")
    assert client.get("/screen").status_code == 200
    token = csrf_of(client, "/screen")
    form = {"text": "油电热风循环流化床炒锅，带搅拌", "csrf_token": token}
    page = client.post("/screen", data=form)
    assert page.status_code == 200 and "需重点审查" in page.text and "可自由实施" in page.text
    assert "&lt;img" in page.text and "<img src=x" not in page.text
    pdf = client.post("/screen/report", data=form | {"format": "pdf"})
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    assert "attachment" in pdf.headers["content-disposition"]
    html = client.post("/screen/report", data=form | {"format": "html"})
    assert "专利检索筛查报告" in html.text and "&lt;img" in html.text
    # 01:30 in Shanghai is still the day before in UTC: the report carries the bureau's date
    night = web.client()
    night.app.state.clock = lambda: dt.datetime(2026, 12, 1, 17, 30, tzinfo=dt.UTC)
    web.login("expert@ipo.example.cn", client=night)
    late = night.post(
        "/screen/report", data=form | {"format": "html", "csrf_token": csrf_of(night, "/screen")}
    )
    assert "screening-2026-12-02.html" in late.headers["content-disposition"]
    assert "2026-12-02" in late.text and "2026-12-01" not in late.text
    forged = client.post("/screen/report", data={"text": "钢筋", "format": "pdf"})
    assert forged.status_code == 403


@pytest.fixture
def expert(web):
    """An expert's client on the search pages' store, with its CSRF token."""
    client = web.login("expert@ipo.example.cn")
    return client, csrf_of(client, "/screen")


#: one form model serves both screening routes: the same answers, naming the field
SCREEN_BAD = [
    ({"text": "钢筋", "limit": "0"}, "limit", "greater than or equal to 1"),
    ({"text": "钢筋", "limit": "201"}, "limit", "less than or equal to 200"),
    ({"text": "钢筋", "limit": "many"}, "limit", "valid integer"),
    ({"text": "x" * 20_001}, "text", "at most 20000 characters"),
    ({"patent": "CN" + "1" * 40}, "patent", "at most 40 characters"),
    ({"text": "钢筋", "sector": "s" * 41}, "sector", "at most 40 characters"),
    ({"text": "钢筋", "ipc": "C" * 21}, "ipc", "at most 20 characters"),
    ({"text": "", "patent": ""}, "text", "give exactly one of text or patent"),
    ({"text": "钢筋", "patent": "CN209888888U"}, "text", "give exactly one of text or patent"),
]


@pytest.mark.parametrize("path", ["/screen", "/screen/report"])
def test_both_screen_routes_refuse_bad_input_naming_the_field(expert, path):
    client, token = expert
    for fields, name, message in SCREEN_BAD:
        response = client.post(path, data=fields | {"csrf_token": token})
        assert response.status_code == 422, (fields, response.text[-800:])
        assert f"{name}: " in response.text and message in response.text, response.text[-800:]


def test_the_report_refuses_an_unknown_format_and_the_page_keeps_the_fields(expert):
    client, token = expert
    response = client.post(
        "/screen/report", data={"text": "钢筋", "format": "docx", "csrf_token": token}
    )
    assert response.status_code == 422 and "format" in response.text
    page = client.post(
        "/screen",
        data={"text": "流化床炒锅", "sector": "", "ipc": "A47J", "limit": "5", "csrf_token": token},
    )
    assert page.status_code == 200
    assert 'value="A47J"' in page.text and "流化床炒锅" in page.text  # the form keeps its input

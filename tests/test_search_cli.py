"""`ipwarn search`, `ipwarn screen` and `ipwarn search-index` as a user runs them."""

from __future__ import annotations

import json
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from pypdf import PdfReader

from tests.rules_support import run_cli, use_store
from tests.search_support import EVENTS, PUBLISHED, gazette_rows, ingest_gazette
from warning.records import DocumentRecord
from warning.search.highlight import highlight_html
from warning.search.index import index_pending
from warning.store.engine import Store
from warning.store.ingest import ingest_document
from warning.timefmt import local_today

HIT_KEYS = {
    "number",
    "title",
    "applicants",
    "ipc",
    "sectors",
    "publication_date",
    "legal_status",
    "score",
    "matched_terms",
}


@pytest.fixture
def filled(store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Store:
    ingest_gazette(store, 400)
    index_pending(store)
    use_store(monkeypatch, store, tmp_path)
    return store


def _json(args: list[str], capsys) -> dict:
    code, out, err = run_cli(args, capsys)
    assert code == 0, err
    return json.loads(out)


def test_search_json_has_the_documented_shape_and_ranks_by_bm25(filled: Store, capsys) -> None:
    data = _json(["search", "钢筋 OR 电机", "--json", "--limit", "5"], capsys)
    assert set(data) == {"total", "hits"}
    assert data["total"] >= len(data["hits"]) > 1
    for hit in data["hits"]:
        assert set(hit) == HIT_KEYS
        assert set(hit["legal_status"]) == {"status", "event", "date"}
        assert set(hit["matched_terms"]) <= {"钢筋", "电机"} and hit["matched_terms"]
    scores = [h["score"] for h in data["hits"]]
    assert scores == sorted(scores, reverse=True)


def test_search_filters(filled: Store, capsys) -> None:
    utility = _json(["search", "装置", "--kind", "U", "--json", "--limit", "50"], capsys)
    assert utility["hits"] and all(h["number"].endswith("U") for h in utility["hits"])
    everything = _json(["search", "装置", "--json", "--limit", "1"], capsys)
    assert everything["total"] > utility["total"]
    by_date = _json(["search", "装置", "--sort", "date", "--json"], capsys)
    assert by_date["total"] == everything["total"]
    none_yet = _json(["search", "装置", "--since", "2020-01-01", "--json"], capsys)
    assert none_yet == {"total": 0, "hits": []}
    row = gazette_rows(400)[10]
    broad = f'"{row["title"]}" OR 装置 OR 方法'
    mine = _json(["search", broad, "--applicant", row["applicant"], "--json"], capsys)
    assert mine["hits"] and all(row["applicant"] in h["applicants"] for h in mine["hits"])
    prefix = row["ipc"].split("/")[0][:4]
    ipc = _json(["search", broad, "--ipc", prefix, "--json", "--limit", "100"], capsys)
    assert ipc["hits"] and all(any(s.startswith(prefix) for s in h["ipc"]) for h in ipc["hits"])
    lapsed = _json(
        ["search", "一种 OR 装置 OR 方法 OR 系统", "--status", "lapsed", "--json"], capsys
    )
    assert all(h["legal_status"]["status"] == "lapsed" for h in lapsed["hits"])


def test_human_output_shows_status_event_and_date(filled: Store, capsys) -> None:
    row = gazette_rows(400)[3]  # TR01 on 2022-06-01: shown, status unchanged
    code, out, _ = run_cli(["search", f'"{row["title"]}"'], capsys)
    assert code == 0
    assert row["number"] in out and "TR01 2022-06-01" in out
    assert "(in_force)" in out or "(pending)" in out


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("钢筋 AND (电机 OR", "at character"),
        ("钢筋 )", "at character 4"),
        ("NOT 电机", "NOT needs a positive term"),
        ('"" 钢筋', "empty quoted phrase"),
    ],
)
def test_invalid_query_exits_2_with_the_parser_message(
    filled: Store, capsys, query: str, message: str
) -> None:
    code, out, err = run_cli(["search", query], capsys)
    assert code == 2 and out == ""
    assert "query:" in err and message in err and "Traceback" not in err


def test_empty_store_says_how_to_fill_it(store: Store, tmp_path: Path, monkeypatch, capsys) -> None:
    use_store(monkeypatch, store, tmp_path)
    code, _, err = run_cli(["search", "钢筋"], capsys)
    assert code == 1 and "no documents" in err and "ipwarn run --once" in err
    ingest_gazette(store, 20)
    code, _, err = run_cli(["screen", "--text", "一种钢筋折弯装置"], capsys)
    assert code == 1 and "ipwarn search-index update" in err
    code, out, _ = run_cli(["search-index", "rebuild"], capsys)
    assert code == 0 and "rebuilt: 20 documents" in out
    assert run_cli(["search", "一种"], capsys)[0] == 0


def test_screen_groups_review_and_free_to_use(filled: Store, capsys) -> None:
    rows = gazette_rows(400)
    lapsed, in_force = rows[1], rows[13]  # row 1 has CF01 (tests/search_support.EVENTS)
    assert EVENTS[1][0][0] == "CF01"
    text = f"{lapsed['title']}。{in_force['title']}。"
    data = _json(["screen", "--text", text, "--json"], capsys)
    assert set(data) == {"query", "review", "free_to_use"} and data["query"] == text
    free = {h["number"]: h for h in data["free_to_use"]}
    review = {h["number"]: h for h in data["review"]}
    assert lapsed["number"] in free and free[lapsed["number"]]["legal_status"]["event"] == "CF01"
    assert in_force["number"] in review
    for hit in [*data["review"], *data["free_to_use"]]:
        assert set(hit) == HIT_KEYS | {"similarity", "overlap_terms"}
        assert 0 < hit["similarity"] <= 1 and len(hit["overlap_terms"]) >= 2
    assert all(h["legal_status"]["status"] in ("pending", "in_force") for h in data["review"])
    sims = [h["similarity"] for h in data["review"]]
    assert sims == sorted(sims, reverse=True)


def test_screen_a_stored_patent_excludes_itself_and_unknown_numbers_fail(
    filled: Store, capsys
) -> None:
    row = gazette_rows(400)[0]
    data = _json(["screen", "--patent", row["number"], "--json"], capsys)
    assert row["number"] not in [h["number"] for h in data["review"] + data["free_to_use"]]
    # a number typed in full-width characters with blanks is the same number
    wide = " ".join(chr(ord(c) + 0xFEE0) for c in row["number"])  # ＣＮ... full-width forms
    same = _json(["screen", "--patent", wide, "--json"], capsys)
    assert [h["number"] for h in same["review"]] == [h["number"] for h in data["review"]]
    code, _, err = run_cli(["screen", "--patent", "CN999999999A"], capsys)
    assert code == 2 and "CN999999999A is not in the store" in err
    code, _, err = run_cli(["screen", "--text", "x", "--patent", row["number"]], capsys)
    assert code == 2 and "exactly one of" in err


def test_screening_report_html_and_pdf(filled: Store, tmp_path: Path, capsys) -> None:
    hostile = gazette_rows(400)[13]["title"] + "<script>alert(1)</script>"
    with filled.session() as session:
        ingest_document(
            session,
            DocumentRecord(
                office="CN",
                number="CN209999999U",
                kind="U",
                title=hostile,
                publication_date=PUBLISHED,
            ),
        )
    index_pending(filled)
    html = tmp_path / "out" / "screen.html"
    code, _, err = run_cli(
        ["screen", "--text", "油电热风循环流化床炒锅，带搅拌", "--report", str(html)], capsys
    )
    assert code == 0, err
    page = html.read_text(encoding="utf-8")
    assert "<script>alert" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    bureau_day = local_today(ZoneInfo("Asia/Shanghai")).isoformat()  # the default timezone
    assert "油电热风循环流化床炒锅，带搅拌" in page and bureau_day in page
    assert "file" in page and "2019-07-12" in page  # coverage: source and date range
    assert "需重点审查" in page and "可自由实施" in page and "不构成法律意见" in page
    pdf = tmp_path / "screen.pdf"
    assert (
        run_cli(
            ["screen", "--text", "油电热风循环流化床炒锅，带搅拌", "--report", str(pdf)], capsys
        )[0]
        == 0
    )
    text = "".join(p.extract_text() for p in PdfReader(pdf).pages).replace("\x00", "")
    assert (
        "专利检索筛查报告" in text
        and "油电热风循环流化床炒锅，带搅拌" in text
        and "CN209999999U" in text
    )
    code, _, err = run_cli(
        ["screen", "--text", "钢筋", "--report", str(tmp_path / "r.docx")], capsys
    )
    assert code == 2 and ".html or .pdf" in err


def test_highlight_escapes_crawled_text() -> None:
    out = str(highlight_html("<b>取向硅钢</b> 退火", ["取向硅钢"]))
    assert out == "&lt;b&gt;<mark>取向硅钢</mark>&lt;/b&gt; 退火"

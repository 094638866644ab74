"""Parsers, field by field, on the real samples (tests/fixtures/crawl, crawlers/samples)."""

from __future__ import annotations

import datetime as dt
import io
import json
import zipfile
from pathlib import Path

import pytest
from click.testing import CliRunner

from crawlers.middlewares import throttle_delays
from crawlers.parsers import BadRecord, detect_format, parse_bytes, parse_file
from crawlers.parsers.transactions import parties_of
from crawlers.parsers.uspto import split_documents
from crawlers.samples import sample_dir
from tests.crawl_support import concatenated
from warning.cli import cli
from warning.legal_codes import category_of, cn_legal_codes
from warning.records import DocumentRecord

FIX = Path(__file__).parent / "fixtures" / "crawl"


def records(path: Path, fmt: str | None = None) -> list[DocumentRecord]:
    out = list(parse_file(path, fmt))
    assert not [o for o in out if isinstance(o, BadRecord)], out
    return [o for o in out if isinstance(o, DocumentRecord)]


def one(path: Path) -> DocumentRecord:
    (record,) = records(path)
    return record


def test_cnipa_old_schema_fields() -> None:
    doc = one(FIX / "cn_old1.xml")
    assert (doc.office, doc.number, doc.kind) == ("CN", "CN104223352A", "A")
    assert doc.title == "一种甘草发酵所得烟用香料及其应用"
    assert doc.abstract.startswith("本发明公开了一种甘草发酵所得烟用香料及其应用。")
    assert "CGMCC No.6645" not in doc.abstract  # the bio-deposit paragraph is not prose
    assert doc.claims.startswith("1.一种甘草发酵所得烟用香料")
    assert doc.applicants == ["云南中烟工业有限责任公司"]
    assert doc.addresses == ["650231 云南省昆明市五华区红锦路367号云烟科技园C区"]
    assert doc.inventors[:3] == ["段焰青", "者为", "李青青"] and len(doc.inventors) == 8
    assert doc.ipc == ["A24B15/18", "C11B9/00", "C12P1/02", "C12R1/645"]
    assert doc.publication_date == dt.date(2014, 12, 24)
    assert doc.application_date == dt.date(2014, 8, 19)
    assert doc.application_number == "201410408762.5"
    assert doc.language == "zh"


def test_cnipa_new_schema_fields() -> None:
    doc = one(FIX / "cn_new2.xml")
    assert doc.number == "CN113783949A" and doc.kind == "A"
    assert doc.title == "一种基于合约管理的跨链去中心化方法"
    assert doc.applicants == ["浙商银行股份有限公司"]
    assert doc.addresses == ["311200 浙江省杭州市萧山区鸿宁路1788号"]
    assert doc.inventors == ["陈嘉俊", "臧铖", "郭东升"]
    assert doc.ipc == ["H04L29/08", "H04L29/06", "H04L9/32", "G06Q40/04", "G06F16/27"]
    assert doc.publication_date == dt.date(2021, 12, 10)
    assert doc.application_date == dt.date(2021, 8, 26)
    assert doc.application_number == "202110991218.8"
    assert doc.abstract.startswith("本发明公开了一种基于合约管理的跨链去中心化方法")
    assert doc.claims.startswith("1.一种基于合约管理的跨链去中心化方法")


def test_uspto_grant_v40_and_application_v44() -> None:
    grant = one(FIX / "US06859910.xml")
    assert (grant.number, grant.kind, grant.office) == ("US6859910B2", "B2", "US")
    assert grant.title == "Methods and systems for transactional tunneling"
    assert grant.applicants == ["Bluestreak.com"]  # the assignee owns it
    assert grant.inventors == ["John Charles Croy"]
    assert grant.ipc == ["G06F15/00", "G06F17/00", "G06F17/21", "G06F17/24"]
    assert grant.publication_date == dt.date(2005, 2, 22)
    assert grant.application_date == dt.date(2001, 4, 10)
    assert grant.application_number == "09832323"
    assert grant.language == "en"
    app = one(FIX / "us_app_v44_example3.xml")
    assert app.number == "US20210045410A1" and app.kind == "A1"
    assert app.applicants == ["TERRAMINO INC."] and app.addresses == ["Berkeley, CA, US"]
    assert app.inventors == ["Kimberlie Le", "Joshua Nixon", "Marisa Yang", "John Frelka"]
    assert app.ipc[:2] == ["A23J3/22", "C12N1/14"]


def test_uspto_weekly_file_is_split_and_a_broken_document_does_not_stop_the_rest() -> None:
    broken = (FIX / "US20050004437A1.xml").read_bytes()[:5000]
    week = concatenated("US06859910.xml") + broken + b"\n" + concatenated("us_app_v44_example3.xml")
    assert len(list(split_documents(week))) == 3
    out = list(parse_bytes(week, "ipa_week.xml"))
    assert [o.number for o in out if isinstance(o, DocumentRecord)] == [
        "US6859910B2",
        "US20210045410A1",
    ]
    (bad,) = [o for o in out if isinstance(o, BadRecord)]
    line = bad.location.rsplit(":", 1)[1]
    assert int(line) == week[: week.index(broken)].count(b"\n") + 1  # names where it starts
    assert bad.raw == broken + b"\n"


def test_zip_packages_are_unpacked_member_by_member() -> None:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as archive:
        archive.writestr("a/cn_old3.xml", (FIX / "cn_old3.xml").read_bytes())
        archive.writestr("a/notes.bin", b"\x00\x01 not a bulletin")
    out = list(parse_bytes(buf.getvalue(), "pkg.zip"))
    assert [o.number for o in out if isinstance(o, DocumentRecord)] == ["CN104245682A"]
    (bad,) = [o for o in out if isinstance(o, BadRecord)]
    assert bad.location == "pkg.zip!a/notes.bin" and "unknown bulletin format" in bad.reason


def test_gazette_page_in_gb18030() -> None:
    page = FIX / "gazette_page_gb18030.html"
    assert b'charset="gb18030"' in page.read_bytes()[:200]
    docs = records(page)
    assert len(docs) == 6
    first = docs[0]
    assert (first.number, first.kind) == ("CN209102019U", "U")
    assert first.title == "流体处理系统和包括所述流体处理系统的仪器"
    assert first.publication_date == dt.date(2019, 7, 12)
    assert first.application_date == dt.date(2015, 12, 3)
    assert first.application_number == "2015900012810"
    assert first.addresses == ["美国马萨诸塞州"]
    fourth = docs[3]
    assert fourth.inventors == ["阎岩", "卢洪洲", "任勇"]  # ';'-separated multi-valued field


def test_gazette_csv_export_keeps_real_excel_damage_out() -> None:
    docs = records(FIX / "gazette_export_709_head.csv")
    assert len(docs) == 12
    numbers = [d.application_number for d in docs]
    assert None in numbers and "201680087887X" in numbers
    assert not any("E+" in (n or "") for n in numbers)  # Excel's '2.02E+12' is not a number to keep
    multi = [d for d in docs if len(d.applicants) > 1 or len(d.inventors) > 1]
    assert multi, "the '??' separators split multi-valued fields"
    assert docs[0].number == "CN109996757A" and docs[0].publication_date == dt.date(2019, 7, 9)


def test_transactions_map_codes_to_categories_and_parties() -> None:
    docs = records(sample_dir() / "transactions.csv")
    events = [e for d in docs for e in d.legal_events]
    assert {e.code for e in events} == {"CF01", "TR01", "IW01", "EE01", "PE01"}
    assert {e.code: e.category for e in events} == {
        "CF01": "termination",
        "TR01": "transfer",
        "IW01": "invalidation",
        "EE01": "licence",
        "PE01": "pledge",
    }
    transfer = next(e for e in events if e.code == "TR01")
    assert transfer.parties["from"] and transfer.parties["to"]
    assert all(not d.title and d.kind in ("B", "U") for d in docs)
    assert parties_of("许可人：甲公司 被许可人：乙公司;丙公司 合同备案号：X1") == {
        "from": ["甲公司"],
        "to": ["乙公司", "丙公司"],
    }


def test_code_table_covers_the_cn_codes() -> None:
    table = cn_legal_codes()
    assert len(table) == 110
    assert table["CF01"].influence == "-"
    assert category_of("CX01") == "expiry" and category_of("RA01") == "restoration"
    assert category_of("ZZ99") is None


def test_epo_ops_biblio_and_legal() -> None:
    doc = one(FIX / "published_biblio_example_3.xml")
    assert doc.number == "AU2013290010A1"
    assert doc.title == "Novel fuel composition"
    assert doc.applicants == ["PRIMUS GREEN ENERGY INC", "BLUESCAPE CLEAN FUELS, LLC"]
    assert doc.ipc == ["C10L1/00"]
    assert doc.publication_date == dt.date(2015, 2, 5)
    legal = records(FIX / "legal_example_3.xml")
    events = [e for d in legal for e in d.legal_events]
    assert events and all(e.code and e.date for e in events)
    assert any(e.code == "AS" and e.description == "ASSIGNMENT" for e in events)


def test_detection_and_the_truncated_file() -> None:
    assert detect_format((FIX / "cn_new2.xml").read_bytes()) == "cnipa-xml"
    assert detect_format((FIX / "US06859910.xml").read_bytes()) == "uspto"
    assert detect_format((sample_dir() / "transactions.csv").read_bytes()) == "cn-transactions"
    assert detect_format((FIX / "legal_example_3.xml").read_bytes()) == "epo-ops"
    (bad,) = list(parse_file(FIX / "truncated_cn_old4.xml"))
    assert (
        isinstance(bad, BadRecord) and "not well-formed XML" in bad.reason and "line" in bad.reason
    )


def test_samples_cover_the_five_sectors_and_stay_small() -> None:
    from warning.taxonomy import load_taxonomy

    total = sum(p.stat().st_size for p in sample_dir().iterdir() if p.is_file())
    assert total < 1_000_000
    docs = [d for p in sorted(sample_dir().glob("gazette_p*.html")) for d in records(p)]
    assert len(docs) == 280
    taxonomy = load_taxonomy()
    for sector in taxonomy.sectors:
        assert any(s.startswith(sector.ipc) for d in docs for s in d.ipc), sector.id
    assert sum("鞍山" in a or "辽宁" in a for d in docs for a in d.addresses) >= 30


def test_ops_throttling_header() -> None:
    delays = throttle_delays(
        "busy (search=green:30, retrieval=red:60, inpadoc=black:0, other=yellow:1000)"
    )
    assert delays == {"search": 2.0, "retrieval": 2.0, "inpadoc": 60.0, "other": 0.06}
    assert throttle_delays("overloaded (search=green:60)") == {"search": 2.0}


def test_parse_command_prints_json_lines_and_exit_2_on_a_bad_file(tmp_path: Path) -> None:
    runner = CliRunner()
    good = str(sample_dir() / "ipa_weekly_sample.xml")
    result = runner.invoke(cli, ["parse", good], catch_exceptions=False)
    assert result.exit_code == 0
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [d["number"] for d in lines] == ["US20050004437A1", "US20210045410A1"]
    assert set(lines[0]) >= {
        "office",
        "number",
        "kind",
        "title",
        "abstract",
        "applicants",
        "addresses",
        "inventors",
        "ipc",
        "publication_date",
        "application_date",
        "application_number",
        "language",
        "legal_events",
    }
    bad = str(FIX / "truncated_cn_old4.xml")
    result = runner.invoke(cli, ["parse", bad, good, str(tmp_path / "missing.xml")])
    assert result.exit_code == 2
    assert len(result.stdout.splitlines()) == 2  # the good file still printed
    assert "truncated_cn_old4.xml" in result.stderr and "not well-formed" in result.stderr
    assert "missing.xml" in result.stderr


@pytest.mark.parametrize("fmt", ["uspto"])
def test_parse_format_option_forces_the_parser(fmt: str) -> None:
    result = CliRunner().invoke(cli, ["parse", "--format", fmt, str(FIX / "cn_old1.xml")])
    assert result.exit_code == 2 and "not a USPTO patent document" in result.stderr

"""The strategy's indicators and the applicant-type rules, on real gazette names and records."""

from __future__ import annotations

import datetime as dt
import json
from collections import Counter

import pytest

from crawlers.parsers.common import split_multi
from tests.forecast_support import ingest, record_of, sample_rows
from tests.rules_support import run_cli, use_store, write
from tests.test_digest import _pdf_text
from warning.indicators.applicant_types import applicant_type
from warning.store.engine import Store

#: real applicant names from tests/fixtures/rules/gazette_sample.tsv, labelled by hand
LABELLED = {
    "华为技术有限公司": "enterprise",
    "东台锦鑫塑业制品厂": "enterprise",
    "四川长城电缆厂": "enterprise",
    "株式会社村田制作所": "enterprise",
    "LG电子株式会社": "enterprise",
    "罗伯特·博世有限公司": "enterprise",
    "浙江大学建筑设计研究院有限公司": "enterprise",
    "中国南方电网有限责任公司超高压输电公司百色局": "enterprise",
    "国以贤智能科技（上海）有限公司": "enterprise",
    "天津大学": "university",
    "重庆机电职业技术学院": "university",
    "香港理工大学": "university",
    "南京工程学院": "university",
    "中国科学院过程工程研究所": "institute",
    "中国电子科技集团公司第十六研究所": "institute",
    "武汉大学深圳研究院": "institute",
    "国网智能电网研究院": "institute",
    "北京空间技术研制试验中心": "institute",
    "天津市生态环境监测中心": "institute",
    "中国舰船研究设计中心": "institute",
    "无锡市人民医院": "other",
    "江苏省人民医院(南京医科大学第一附属医院)": "other",
    "中国人民解放军65188部队": "other",
    "闽清县南安农业专业合作社": "other",
    "太原市农业行政综合执法支队": "other",
    "河北省人工影响天气办公室": "other",
    "王芳": "individual",
    "慕容红梅": "individual",
    "司徒志成": "individual",
    "雅克·塞内加斯": "individual",
    "S·D·温纳德": "individual",
}


def test_applicant_types_of_real_gazette_names():
    real = {name for row in sample_rows() for name in split_multi(row["applicant"])}
    assert set(LABELLED) <= real  # every labelled name is a real applicant of the sample
    wrong = {n: applicant_type(n) for n, t in LABELLED.items() if applicant_type(n) != t}
    assert wrong == {}
    # over the whole sample most applicants are enterprises, and every type occurs
    counts = Counter(applicant_type(n) for n in real)
    assert counts.most_common(1)[0][0] == "enterprise"
    assert set(counts) == {"enterprise", "university", "institute", "individual", "other"}


def test_latin_names():
    assert applicant_type("Massachusetts Institute of Technology") == "university"
    assert applicant_type("BASF SE") == "enterprise"
    assert applicant_type("Fraunhofer-Gesellschaft zur Förderung e.V.") == "institute"
    assert applicant_type("John Smith") == "individual"


def _split_years() -> tuple[list[dict], list[dict]]:
    rows = list(sample_rows())
    return rows[:500], rows[500:1300]


def _expected(rows: list[dict], region: str) -> tuple[Counter, Counter]:
    local = [r for r in rows if region in r["address"]]
    kinds = Counter(r["number"][-1] for r in local)
    types = Counter(
        applicant_type(split_multi(r["applicant"])[0]) for r in local if r["number"][-1] != "B"
    )
    return kinds, types


@pytest.fixture
def two_years(store: Store) -> Store:
    earlier, later = _split_years()
    records = [
        record_of(r, dt.date(2025, 3, 4) + dt.timedelta(days=i % 300))
        for i, r in enumerate(earlier)
    ]
    records += [
        record_of(r, dt.date(2026, 2, 3) + dt.timedelta(days=i % 300)) for i, r in enumerate(later)
    ]
    ingest(store, records)
    return store


def test_indicators_count_documents_of_the_region_by_publication_year(
    two_years: Store, tmp_path, monkeypatch, capsys
):
    use_store(monkeypatch, two_years, tmp_path)
    earlier, later = _split_years()
    code, out, err = run_cli(["indicators", "--year", "2026", "--region", "辽宁", "--json"], capsys)
    assert code == 0, err
    result = json.loads(out)
    kinds, types = _expected(later, "辽宁")
    before, _ = _expected(earlier, "辽宁")
    assert (result["region"], result["since"], result["until"]) == (
        "辽宁",
        "2026-01-01",
        "2026-12-31",
    )
    assert result["documents"] == {"A": kinds["A"], "B": kinds["B"], "U": kinds["U"], "S": 0}
    assert sum(result["applicant_types"].values()) == kinds["A"] + kinds["U"]
    assert result["applicant_types"] == {t: types.get(t, 0) for t in result["applicant_types"]}
    assert result["enterprise_share"] == round(types["enterprise"] / (kinds["A"] + kinds["U"]), 4)
    growth = result["growth"]["applications_growth"]
    assert growth == round(
        (kinds["A"] + kinds["U"] - before["A"] - before["U"]) / (before["A"] + before["U"]), 4
    )
    target = next(t for t in result["targets"] if t["id"] == "enterprise_share")
    assert target["min"] == 0.7 and target["met"] == (result["enterprise_share"] >= 0.7)
    assert all(a["documents"] > 0 for a in result["top_applicants"])

    # a city: fewer documents than its province; a period given by dates
    code, out, _ = run_cli(
        [
            "indicators",
            "--since",
            "2026-01-01",
            "--until",
            "2026-12-31",
            "--region",
            "鞍山",
            "--json",
        ],
        capsys,
    )
    city = json.loads(out)
    assert sum(city["documents"].values()) == _expected(later, "鞍山")[0].total()
    assert sum(city["documents"].values()) < sum(result["documents"].values())

    code, text, _ = run_cli(["indicators", "--year", "2026", "--region", "辽宁"], capsys)
    assert code == 0 and "enterprise share" in text and "target" in text

    # the quarterly report: HTML with charts and a PDF, the same bytes when built again
    files = []
    for n in (1, 2):
        out = tmp_path / f"report{n}"
        code, _, err = run_cli(
            ["indicators", "--quarter", "2026Q2", "--region", "辽宁", "--report", str(out)], capsys
        )
        assert code == 0, err
        files.append(sorted(out.iterdir()))
    html, pdf = files[0]
    assert [p.read_bytes() for p in files[0]] == [p.read_bytes() for p in files[1]]
    page = html.read_text(encoding="utf-8")
    assert "2026-04-01 至 2026-06-30" in page and 'alt="每月公开/授权量"' in page
    assert "企业专利申请量占全市申请量" in page
    assert "知识产权统计指标" in _pdf_text(pdf)
    code, _, err = run_cli(["indicators", "--quarter", "2026Q5"], capsys)
    assert code == 2 and "--quarter" in err


def test_bad_periods_and_targets_are_named(sqlite_store: Store, tmp_path, monkeypatch, capsys):
    use_store(monkeypatch, sqlite_store, tmp_path)
    code, _, err = run_cli(["indicators", "--year", "2026", "--since", "2026-01-01"], capsys)
    assert code == 2 and "--year" in err
    code, _, err = run_cli(["indicators", "--since", "2026-05-01", "--until", "2026-01-01"], capsys)
    assert code == 2 and "--until" in err
    bad = write(
        tmp_path / "targets.yaml",
        "version: 1\ntargets:\n  - id: x\n    label: 企业占比\n    measure: enterprise_shar\n    min: 0.7\n",
    )
    monkeypatch.setenv("IPWARN_INDICATOR_TARGETS_FILE", str(bad))
    code, _, err = run_cli(["indicators", "--year", "2026"], capsys)
    assert code == 2 and f"{bad}:5" in err and "targets[0].measure" in err
    assert "did you mean 'enterprise_share'" in err

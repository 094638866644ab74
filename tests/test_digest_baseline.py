"""Digest levels from a near-empty baseline, and alerts counted in the week of their documents.

The store is built from real CNIPA gazette rows (tests/fixtures/rules/gazette_sample.tsv, the
2019-07-12 gazette); the weeks around it are made by re-dating other real rows of the same file,
as the real data holds only one gazette week.
"""

from __future__ import annotations

import datetime as dt

from pypdf import PdfReader

from tests.conftest import settings_for
from tests.digest_support import add_alert, add_records, gazette_records
from warning.config import Settings
from warning.digest.service import build_digest
from warning.digest.weeks import IsoWeek
from warning.store.engine import Store

W28 = IsoWeek.parse("2019-W28")  # 2019-07-08 .. 07-14: the real gazette of 2019-07-12
GAZETTE_DAY = dt.date(2019, 7, 12)
STRAY_DAY = dt.date(2019, 7, 5)  # W27: the only earlier week holding anything


def _with_data(content: dict) -> list[dict]:
    return [s for s in content["sectors"] if s["publications"]["this"]]


def test_ten_stray_documents_are_not_a_baseline(sqlite_store: Store, settings: Settings):
    add_records(sqlite_store, gazette_records(0, 1200, GAZETTE_DAY))
    add_records(sqlite_store, gazette_records(1200, 10, STRAY_DAY))
    built = build_digest(sqlite_store, settings_for(sqlite_store, settings), W28)
    sectors = _with_data(built.content)
    assert sectors, "the real gazette rows fall into the key sectors"
    # the trap of the issue: against ten stray documents the week looks like a flood
    assert max(s["publications"]["vs_mean"] or 0 for s in sectors) >= 3.0
    for s in sectors:
        assert s["baseline"]["weeks"] == 1
        assert s["baseline"]["note"] == "基线不足，不评级"
        assert s["no_baseline"] == ["filings_vs_mean", "foreign_share_change"]
        graded = {d["indicator"] for d in s["drivers"]}
        assert not graded & {"filings_vs_mean", "foreign_share_change"}
    html = built.html_path.read_text(encoding="utf-8")
    assert "基线不足，不评级：前12周有数据的 1 周内" in html
    assert "2868" not in html and "本周/均值" in html
    pdf = "".join(p.extract_text() for p in PdfReader(built.pdf_path).pages).replace("\x00", "")
    assert "基线不足，不评级" in pdf


def test_a_sufficient_baseline_grades_the_trailing_comparison(
    sqlite_store: Store, settings: Settings
):
    add_records(sqlite_store, gazette_records(0, 1200, GAZETTE_DAY))
    # six earlier weeks of 120 real rows each (re-dated to each week's Friday)
    for n in range(1, 7):
        day = GAZETTE_DAY - dt.timedelta(weeks=n)
        add_records(sqlite_store, gazette_records(1200 + 120 * (n - 1), 120, day))
    built = build_digest(sqlite_store, settings_for(sqlite_store, settings), W28)
    graded = [
        s
        for s in _with_data(built.content)
        if s["baseline"]["documents"] >= 20  # the packaged minimum
    ]
    assert graded
    for s in graded:
        assert s["baseline"]["weeks"] == 6
        assert "filings_vs_mean" not in s["no_baseline"]
        # 1,200 documents against a mean of 120 a week: ten times the mean is red
        assert ("filings_vs_mean", "critical") in {
            (d["indicator"], d["level"]) for d in s["drivers"]
        }
    html = built.html_path.read_text(encoding="utf-8")
    assert html.count("基线不足，不评级：") == sum(
        bool(s["no_baseline"]) for s in _with_data(built.content)
    )


def test_thresholds_file_sets_the_baseline_minimums(
    sqlite_store: Store, settings: Settings, tmp_path
):
    add_records(sqlite_store, gazette_records(0, 1200, GAZETTE_DAY))
    add_records(sqlite_store, gazette_records(1200, 10, STRAY_DAY))
    lenient = tmp_path / "thresholds.yaml"
    lenient.write_text(
        "baseline: {min_weeks: 1, min_documents: 1}\n"
        "indicators:\n  filings_vs_mean: {label: 公开量比, unit: ratio, critical: 3.0}\n",
        encoding="utf-8",
    )
    cfg = settings_for(sqlite_store, settings).model_copy(
        update={"digest_thresholds_file": lenient}
    )
    content = build_digest(sqlite_store, cfg, W28).content
    assert content["thresholds"]["baseline"] == {"min_weeks": 1, "min_documents": 1}
    reds = [s for s in _with_data(content) if s["level"] == "critical"]
    assert reds and all(s["drivers"][0]["indicator"] == "filings_vs_mean" for s in reds)


def test_back_filled_week_shows_its_alerts(store: Store, settings: Settings):
    """Alerts created today about 2019 documents belong to the 2019 week, not to today's."""
    ids = add_records(store, gazette_records(0, 40, GAZETTE_DAY))
    now = dt.datetime(2026, 11, 24, 3, 0, tzinfo=dt.UTC)  # Tuesday of 2026-W48
    for doc_id in ids[:3]:
        add_alert(store, doc_id, "critical", None, now, as_of=GAZETTE_DAY)
    # an event alert: a legal event dated in W28 on a document published long before
    old = add_records(store, gazette_records(40, 1, dt.date(2015, 3, 4)))[0]
    add_alert(store, old, "high", None, now, as_of=dt.date(2019, 7, 9))
    cfg = settings_for(store, settings)

    back_filled = build_digest(store, cfg, W28).content
    assert back_filled["totals"]["alerts"] == 4
    assert back_filled["totals"]["alerts_by_severity"]["critical"] == 3
    assert back_filled["totals"]["alerts_by_severity"]["high"] == 1

    today = build_digest(store, cfg, IsoWeek.parse("2026-W48")).content
    assert today["totals"]["alerts"] == 0
    assert today["has_data"] is False  # the back-fill does not make the current week look busy


def test_alert_without_a_dated_subject_counts_in_its_creation_week(
    store: Store, settings: Settings
):
    # Monday 2026-11-23 00:30 Shanghai = Sunday 16:30 UTC: local week W48
    created = dt.datetime(2026, 11, 22, 16, 30, tzinfo=dt.UTC)
    add_alert(store, None, "high", "steel", created)
    cfg = settings_for(store, settings)
    assert build_digest(store, cfg, IsoWeek.parse("2026-W48")).content["totals"]["alerts"] == 1
    assert build_digest(store, cfg, IsoWeek.parse("2026-W47")).content["totals"]["alerts"] == 0

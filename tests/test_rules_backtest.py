"""`ipwarn rules test`: back-tests on files (no store) and on stored documents (with a diff)."""

from __future__ import annotations

import datetime as dt
import json
import sys

from sqlalchemy import func, select

from rules.aggregate import evaluate_aggregates
from rules.docview import MatchDoc
from rules.engine import CompiledRule
from rules.spec import RuleSpec
from tests.rules_support import (
    DOCS,
    EXAMPLE_SUBS,
    LIBRARY,
    ingest_fixture_docs,
    run_cli,
    use_store,
    write,
)
from warning.store.models import Alert


def _rows(out: str) -> list[dict]:
    return [json.loads(line) for line in out.splitlines() if line.strip()]


def test_docs_without_subscriptions_print_each_match_once_with_null_enterprise(settings, capsys):
    code, out, err = run_cli(
        ["rules", "test", str(LIBRARY), "--docs", str(DOCS), "--json", "--now", "2022-10-25"],
        capsys,
    )
    assert code == 0, err
    rows = _rows(out)
    assert all(r["enterprise"] is None for r in rows)
    keys = [(r["rule_id"], r["number"]) for r in rows]
    assert len(keys) == len(set(keys))
    assert ("steel-silicon-foreign", "CN115198012A") in keys
    # "取向硅钢退火设备" is excluded by AND NOT 设备; the water sink matches nothing
    assert ("steel-silicon-foreign", "CN115198013A") not in keys
    assert not any(n == "CN115200002A" for _, n in keys)
    row = next(r for r in rows if r["rule_id"] == "steel-silicon-foreign")
    assert set(row) == {
        "rule_id",
        "rule_version",
        "number",
        "enterprise",
        "severity",
        "explanation",
    }
    assert row["severity"] == "high" and row["rule_version"] == 1


def test_missing_classifier_degrades_to_ipc_tags_with_a_note(settings, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "models.api", None)  # as if the classifier were not installed
    code, out, err = run_cli(["rules", "test", str(LIBRARY), "--docs", str(DOCS), "--json"], capsys)
    assert code == 0
    assert "classifier not available" in err and "sectors from their IPC symbols only" in err
    # CN115200001A has no tags in the file; its IPC B07B puts it in mining equipment
    assert any(
        r["rule_id"] == "equipment-mining-foreign" and r["number"] == "CN115200001A"
        for r in _rows(out)
    )


def test_docs_with_subscriptions_address_enterprises(settings, capsys):
    code, out, err = run_cli(
        [
            "rules",
            "test",
            str(LIBRARY),
            "--docs",
            str(DOCS),
            "--subscriptions",
            str(EXAMPLE_SUBS),
            "--json",
        ],
        capsys,
    )
    assert code == 0, err
    pairs = {(r["rule_id"], r["number"], r["enterprise"]) for r in _rows(out)}
    assert ("steel-silicon-foreign", "CN115198012A", "ansteel") in pairs
    assert (
        "competitor-watch",
        "CN115200001A",
        "anshan-heavy-mining",
    ) in pairs  # 美卓 is a competitor
    assert ("lapsed-free-to-use", "CN101880888B", "anshan-heavy-mining") in pairs
    assert ("own-patent-status-change", "CN102373366B", "ansteel") in pairs
    # its own patents are never "similar to its own patents"
    assert not any(
        r == "infringement-screening" and e == "ansteel" and n in ("CN102373366B", "CN103060701B")
        for r, n, e in pairs
    )
    text_code, text, _ = run_cli(
        ["rules", "test", str(LIBRARY), "--docs", str(DOCS), "--subscriptions", str(EXAMPLE_SUBS)],
        capsys,
    )
    assert text_code == 0
    line = next(x for x in text.splitlines() if x.startswith("steel-silicon-foreign"))
    assert line.split("\t")[:5] == [
        "steel-silicon-foreign",
        "v1",
        "CN115198012A",
        "ansteel",
        "high",
    ]


def test_bad_docs_line_is_located(settings, capsys, tmp_path):
    path = write(
        tmp_path / "docs.jsonl", DOCS.read_text(encoding="utf-8") + '{"office": "CN"}\nnot json\n'
    )
    code, _, err = run_cli(["rules", "test", str(LIBRARY), "--docs", str(path)], capsys)
    assert code == 2
    assert f"{path}:10: number: " in err.replace("error: ", "") and f"{path}:11: " in err


def test_since_backtests_stored_documents_and_diffs_against_active_version(
    store, settings, tmp_path, monkeypatch, capsys
):
    use_store(monkeypatch, store, tmp_path)
    ingest_fixture_docs(store)
    rule = write(
        tmp_path / "lib" / "r.yaml",
        "id: mining-watch\nversion: 1\ntitle: 矿山设备\nseverity: low\n"
        "status: active\nwhen: {subfields: [equipment.mining_equipment]}\n",
    )
    assert run_cli(["rules", "sync", str(rule)], capsys)[0] == 0
    write(
        rule,
        "id: mining-watch\nversion: 2\ntitle: 矿山设备（仅外国）\nseverity: low\nstatus: test\n"
        "when: {subfields: [equipment.mining_equipment], applicant_foreign: true}\n",
    )
    code, out, err = run_cli(
        ["rules", "test", str(rule), "--since", "2010-01-01", "--until", "2022-12-31"], capsys
    )
    assert code == 0, err
    assert "CN115200001A" in out and "CN101880888B" not in out
    assert "diff mining-watch v2 vs v1: +0 -1" in err and "- doc:CN101880888B" in err
    with store.session() as session:  # nothing stored by a back-test
        assert session.scalar(select(func.count()).select_from(Alert)) == 0


def test_activate_retire_and_list(store, settings, tmp_path, monkeypatch, capsys):
    use_store(monkeypatch, store, tmp_path)
    path = tmp_path / "r.yaml"
    for version in (1, 2):
        write(
            path,
            f"id: r-one\nversion: {version}\ntitle: t{version}\nseverity: low\nstatus: "
            f"{'active' if version == 1 else 'draft'}\nwhen: {{kinds: [B]}}\n",
        )
        assert run_cli(["rules", "sync", str(path)], capsys)[0] == 0
    code, out, _ = run_cli(["rules", "activate", "r-one", "2"], capsys)
    assert code == 0 and "r-one v2 is now active" in out
    _, listing, _ = run_cli(["rules", "list", "--all"], capsys)
    assert "r-one\tv1\tretired" in listing and "r-one\tv2\tactive" in listing
    assert run_cli(["rules", "retire", "r-one", "2"], capsys)[0] == 0
    code, _, err = run_cli(["rules", "activate", "r-one", "7"], capsys)
    assert code == 2 and "stored versions: [1, 2]" in err
    # a changed file without a version bump is refused and nothing is stored
    write(path, "id: r-one\nversion: 2\ntitle: changed\nseverity: low\nwhen: {kinds: [B]}\n")
    code, _, err = run_cli(["rules", "sync", str(path)], capsys)
    assert code == 2 and f"{path}:1: version: " in err and "bump the version" in err


def _doc(number: str, applicant: str, address: str, day: dt.date) -> MatchDoc:
    return MatchDoc(
        number=number,
        office="CN",
        kind="A",
        title="一种钢板",
        applicants=[applicant],
        addresses=[address],
        ipc=["C21D8/02"],
        publication_date=day,
        sectors={"steel": 0.9},
    )


def test_surge_rule_fires_on_a_burst_against_the_baseline():
    spec = RuleSpec.model_validate(
        {
            "id": "surge",
            "version": 1,
            "title": "surge",
            "severity": "high",
            "kind": "aggregate",
            "when": {"sectors": ["steel"], "applicant_foreign": True},
            "aggregate": {
                "metric": "surge",
                "window_weeks": 4,
                "baseline_weeks": 52,
                "min_count": 3,
                "ratio": 3,
            },
        }
    )
    today = dt.date(2026, 11, 24)
    burst = [
        _doc(f"CN1{i:08d}A", "POSCO", "韩国浦项", today - dt.timedelta(days=i)) for i in range(4)
    ]
    steady = [
        _doc(f"CN2{i:08d}A", "新日铁住金株式会社", "日本东京", today - dt.timedelta(days=7 * i))
        for i in range(60)
    ]
    local = [
        _doc(f"CN3{i:08d}A", "鞍钢股份有限公司", "辽宁省鞍山市", today - dt.timedelta(days=i))
        for i in range(9)
    ]
    fired = evaluate_aggregates([CompiledRule.build(spec)], burst + steady + local, today)
    assert [(m.group, m.window_count) for m in fired] == [
        ({"applicant": "posco", "sector": "steel"}, 4)
    ]
    assert fired[0].explanation["matched_conditions"]["baseline_count"] == 0
    assert fired[0].subject.endswith("2026-W48")

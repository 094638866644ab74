"""`ipwarn rules check`: every problem located as FILE:LINE: field.path: message, exit 2."""

from __future__ import annotations

from pathlib import Path

from rules.loader import load_rules
from rules.query import evaluate, fold_text, parse_query
from tests.rules_support import LIBRARY, run_cli, write

BAD = """\
id: steel-test
version: 1
title: 测试
severity: hihg
status: active
when:
  sectors: [stel]
  subfields: [silicon_steel]
  keywords: "硅钢 AND (取向"
  ipc: [Z99/00]
  legal_event: [CF01]
notfy: subscribers
"""


def test_shipped_library_is_valid_and_covers_every_sector(settings, capsys):
    code, _out, err = run_cli(["rules", "check", str(LIBRARY)], capsys)
    assert code == 0, err
    loaded, problems = load_rules([LIBRARY])
    assert not problems
    sectors = {s for r in loaded for s in (r.spec.when.sectors or [])}
    sectors |= {sf.split(".")[0] for r in loaded for sf in (r.spec.when.subfields or [])}
    assert {"steel", "equipment", "chemicals", "minerals", "optoelectronics"} <= sectors
    assert any(r.spec.kind == "aggregate" for r in loaded)
    assert any(
        "CF01" in (r.spec.when.legal_events or []) and r.spec.category == "opportunity"
        for r in loaded
    )


def test_each_problem_is_one_located_line_with_did_you_mean(settings, capsys, tmp_path):
    path = write(tmp_path / "bad.yaml", BAD)
    code, out, _err = run_cli(["rules", "check", str(path)], capsys)
    assert code == 2
    lines = out.strip().splitlines()
    assert f"{path}:4: severity: " in lines[0] and "did you mean 'high'?" in lines[0]
    expected = {
        7: ("when.sectors", "did you mean 'steel'?"),
        8: ("when.subfields", "did you mean 'steel.silicon_steel'?"),
        9: ("when.keywords", "missing closing parenthesis"),
        10: ("when.ipc", "not an IPC symbol"),
        11: ("when.legal_event", "did you mean 'legal_events'?"),
        12: ("notfy", "did you mean 'notify'?"),
    }
    for line_no, (field, message) in expected.items():
        matching = [x for x in lines if x.startswith(f"{path}:{line_no}: {field}: ")]
        assert matching and message in matching[0], (line_no, lines)
    assert len(lines) == 7


def test_yaml_syntax_error_and_missing_key_are_located(settings, capsys, tmp_path):
    broken = write(tmp_path / "a.yaml", "id: x-1\nversion: 1\ntitle: [unclosed\n")
    missing = write(tmp_path / "b.yaml", "id: x-2\nversion: 1\ntitle: t\nwhen: {kinds: [A]}\n")
    code, out, _ = run_cli(["rules", "check", str(tmp_path)], capsys)
    assert code == 2
    assert f"{broken}:" in out and "not valid YAML" in out
    assert f"{missing}:1: severity: required key is missing" in out


def test_same_version_defined_twice_differently_is_an_error(settings, capsys, tmp_path):
    body = "id: dup-rule\nversion: 2\ntitle: {t}\nseverity: low\nwhen: {{kinds: [A]}}\n"
    write(tmp_path / "one.yaml", body.format(t="first"))
    second = write(tmp_path / "two.yaml", body.format(t="second"))
    code, out, _ = run_cli(["rules", "check", str(tmp_path)], capsys)
    assert code == 2
    assert f"{second}:1: version: rule dup-rule version 2 is also defined differently" in out


def test_keyword_expressions_and_or_not_phrases():
    query = parse_query("硅钢 AND (取向 OR 无取向) AND NOT 设备")
    assert evaluate(query, fold_text("一种无取向硅钢的制造方法"))
    assert not evaluate(query, fold_text("取向硅钢退火设备"))
    assert not evaluate(query, fold_text("一种硅钢"))
    phrase = parse_query('"Hot Rolled" steel')
    assert evaluate(phrase, fold_text("HOT ROLLED STEEL strip"))
    assert not evaluate(phrase, fold_text("hot steel, rolled"))
    # full-width letters fold to half-width
    assert evaluate(parse_query("LED"), fold_text("一种ＬＥＤ灯"))


def test_aggregate_rule_needs_aggregate_section(tmp_path: Path):
    write(
        tmp_path / "agg.yaml",
        "id: agg-1\nversion: 1\ntitle: t\nseverity: low\nkind: aggregate\n"
        "when: {sectors: [steel]}\n",
    )
    _, problems = load_rules([tmp_path])
    assert len(problems) == 1 and "needs an 'aggregate' section" in problems[0].message

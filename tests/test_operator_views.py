"""Issue 13.7: operator views that were missing or inconsistent."""

from __future__ import annotations

import json

from tests.rules_support import run_cli, use_store, write
from tests.smtp_support import add_alerts, add_enterprise, smtp_settings


def test_config_show_names_the_file_it_loaded(settings, tmp_path, capsys):
    path = write(tmp_path / "prod.toml", 'log_level = "WARNING"\n')
    code, out, err = run_cli(["--config", str(path), "config", "show"], capsys)
    assert code == 0, err
    assert f"config file: {path.resolve()}" in err
    assert json.loads(out)["config_file"] == str(path.resolve())
    code, out, err = run_cli(["config", "show"], capsys)
    assert "config file: none" in err and json.loads(out)["config_file"] is None


def test_outbox_dead_with_none_says_so_and_unknown_requeue_id_is_an_error(
    store, settings, tmp_path, monkeypatch, capsys
):
    use_store(monkeypatch, store, tmp_path)
    code, out, _ = run_cli(["outbox", "--dead"], capsys)
    assert code == 0 and "no dead letters" in out
    code, _, err = run_cli(["outbox", "--requeue-dead", "999"], capsys)
    assert code == 2 and "no outbox row #999" in err and "Nothing was requeued" in err
    sub = add_enterprise(store)
    add_alerts(store, smtp_settings(settings, store, None), sub, 1)
    code, _, err = run_cli(["outbox", "--requeue-dead", "1"], capsys)
    assert code == 2 and "row #1 is pending, not dead" in err


def test_silence_add_and_list_show_the_same_local_time(
    store, settings, tmp_path, monkeypatch, capsys
):
    use_store(monkeypatch, store, tmp_path)
    add_enterprise(store)
    code, out, err = run_cli(
        ["silence", "add", "--enterprise", "ent-1", "--until", "2099-12-31"], capsys
    )
    assert code == 0, err
    assert "until 2100-01-01 00:00 CST" in out
    code, out, _ = run_cli(["silence", "list"], capsys)
    assert "until 2100-01-01 00:00 CST" in out
    code, out, _ = run_cli(["silence", "list", "--json"], capsys)
    assert json.loads(out)[0]["until"] == "2100-01-01T00:00:00+08:00"


def test_alerts_lists_stored_alerts_with_their_explanations(
    store, settings, tmp_path, monkeypatch, capsys
):
    from rules.stage import run_match_stage
    from tests.test_rules_stage import NOW, _prepare
    from warning.pipeline import StageContext

    cfg, rules_dir = _prepare(store, settings, tmp_path)
    assert run_match_stage(StageContext(settings=cfg, store=store, now=NOW)).status == "ok"
    use_store(monkeypatch, store, tmp_path)
    monkeypatch.setenv("IPWARN_RULES_DIR", str(rules_dir))

    code, out, err = run_cli(
        ["alerts", "--enterprise", "ansteel", "--rule", "steel-silicon-foreign", "--json"], capsys
    )
    assert code == 0, err
    rows = [json.loads(line) for line in out.splitlines()]
    assert rows and {r["enterprise"] for r in rows} == {"ansteel"}
    first = next(r for r in rows if r["number"] == "CN115198012A")
    assert first["status"] == "queued" and first["rule_version"] == 1
    why = dict((w["label"], w["text"]) for w in first["why"])
    assert any("C21D8/12" in text for text in why.values())
    assert first["created_at"].endswith("+08:00")

    code, out, _ = run_cli(["alerts", "--rule", "steel-silicon-foreign"], capsys)
    assert "CN115198012A" in out and "\n    " in out  # the why lines under each alert

    code, out, _ = run_cli(["alerts", "--test", "--json"], capsys)
    trial = [json.loads(line) for line in out.splitlines()]
    assert trial and {(r["rule"], r["status"]) for r in trial} == {
        ("steel-any-foreign-trial", "test")
    }
    code, out, err = run_cli(["alerts", "--since", "2099-01-01"], capsys)
    assert code == 0 and out == "" and "0 alert(s)" in err
    code, _, err = run_cli(["alerts", "--status", "snet"], capsys)
    assert code == 2 and "did you mean 'sent'?" in err


def test_quarantine_list_show_and_retry(store, settings, tmp_path, monkeypatch, capsys):
    from sqlalchemy import func, select

    from crawlers.store_ops import quarantine
    from tests.crawl_support import fixture
    from warning.records import DocumentRecord
    from warning.store.models import Document, QuarantinedRecord

    use_store(monkeypatch, store, tmp_path)
    code, out, _ = run_cli(["quarantine", "list"], capsys)
    assert code == 0 and "no quarantined records" in out
    stored_json = DocumentRecord(
        office="CN",
        number="CN209102019U",
        kind="U",
        title="流体处理系统",
        applicants=["珀金埃尔默"],
    )
    with store.session() as session:
        # bytes an older parser choked on (now fine), bytes that are really broken, and a record
        # that could not be stored during a database outage
        quarantine(
            session,
            "cnipa_bulk",
            None,
            "pkg.zip!cn_old1.xml",
            "not well-formed XML",
            fixture("cn_old1.xml"),
        )
        quarantine(
            session,
            "cnipa_bulk",
            None,
            "pkg.zip!bad.xml",
            "not well-formed XML",
            fixture("truncated_cn_old4.xml"),
        )
        quarantine(
            session,
            "gazette",
            None,
            "http://gazette/x",
            "could not store CN209102019U: OperationalError: database is locked",
            stored_json.to_json().encode("utf-8"),
        )
    code, out, err = run_cli(["quarantine", "list", "--json"], capsys)
    data = json.loads(out)
    assert data["total"] == 3 and data["records"][0]["source"] == "gazette"
    code, out, _ = run_cli(["quarantine", "show", "2"], capsys)
    assert "pkg.zip!bad.xml" in out and "not well-formed" in out and "<?xml" in out
    code, _, err = run_cli(["quarantine", "show", "99"], capsys)
    assert code == 2 and "no quarantined record #99" in err
    code, out, _ = run_cli(["status", "--json"], capsys)
    assert json.loads(out)["quarantine"] == {"cnipa_bulk": 2, "gazette": 1}

    code, out, err = run_cli(["quarantine", "retry", "all"], capsys)
    assert code == 1  # one is still bad
    assert "#1: stored (new 1" in out and "#3: stored (new 1" in out
    assert "#2: still quarantined" in out and "2 record(s) stored, 1 still quarantined" in out
    with store.session() as session:
        assert session.scalars(select(QuarantinedRecord.id)).all() == [2]
        assert session.scalar(select(func.count()).select_from(Document)) == 2


def test_status_shows_digests_awaiting_approval_and_the_untagged_backlog(
    store, settings, tmp_path, monkeypatch, capsys
):
    from tests.rules_support import doc_dicts, ingest_fixture_docs
    from warning.store.models import Digest

    use_store(monkeypatch, store, tmp_path)
    ingest_fixture_docs(store)
    with store.session() as session:
        session.add_all(
            [
                Digest(week="2026-W46", status="approved", content={}),
                Digest(week="2026-W47", status="draft", content={}),
            ]
        )
    code, out, err = run_cli(["status", "--json"], capsys)
    assert code == 0, err
    data = json.loads(out)
    assert [d["week"] for d in data["digests_awaiting_approval"]] == ["2026-W47"]
    assert data["untagged"]["documents"] == len(doc_dicts())
    code, out, _ = run_cli(["status"], capsys)
    assert "digests awaiting approval: #2 2026-W47" in out
    assert f"untagged documents: {len(doc_dicts())}" in out
    assert "quarantined records: none" in out

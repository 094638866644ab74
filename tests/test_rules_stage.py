"""The match stage on SQLite and PostgreSQL: alerts, outbox rows, idempotency, rule versions."""

from __future__ import annotations

import datetime as dt
import shutil

from sqlalchemy import func, select

from rules.loader import load_subscription_file
from rules.repository import import_subscriptions
from rules.stage import run_match_stage
from tests.conftest import settings_for
from tests.rules_support import (
    EXAMPLE_SUBS,
    LIBRARY,
    doc_dicts,
    ingest_fixture_docs,
    tag_like_ipc,
    write,
)
from warning.pipeline import StageContext
from warning.records import LegalEventRecord
from warning.store.ingest import ingest_legal_event
from warning.store.models import Alert, Document, DocumentTag, OutboxMessage, Rule

NOW = dt.datetime(2022, 10, 25, 2, 0, tzinfo=dt.UTC)

TEST_RULE = """\
id: steel-any-foreign-trial
version: 1
title: 试运行：外国申请人钢铁专利
severity: low
status: test
when:
  sectors: [steel]
  applicant_foreign: true
"""


def _prepare(store, settings, tmp_path):
    rules_dir = tmp_path / "rules"
    shutil.copytree(LIBRARY, rules_dir)
    write(rules_dir / "trial.yaml", TEST_RULE)
    cfg = settings_for(store, settings).model_copy(update={"rules_dir": rules_dir})
    with store.session() as session:
        import_subscriptions(session, load_subscription_file(EXAMPLE_SUBS), NOW)
    ingest_fixture_docs(store)
    version = tag_like_ipc(store, skip=("CN115198012A",))
    with store.session() as session:
        doc_id = session.scalar(select(Document.id).where(Document.number == "CN115198012A"))
        session.add_all(
            [
                DocumentTag(
                    document_id=doc_id,
                    model_version=version,
                    sector="steel",
                    subfield="",
                    confidence=0.97,
                ),
                DocumentTag(
                    document_id=doc_id,
                    model_version=version,
                    sector="steel",
                    subfield="silicon_steel",
                    confidence=0.93,
                ),
            ]
        )
    return cfg, rules_dir


def _alerts(store):
    with store.session() as session:
        return session.scalars(select(Alert).order_by(Alert.id)).all()


def test_stage_stores_explained_alerts_and_outbox_rows_once(store, settings, tmp_path):
    cfg, _ = _prepare(store, settings, tmp_path)
    result = run_match_stage(StageContext(settings=cfg, store=store, now=NOW))
    assert result.status == "ok", result.note
    alerts = _alerts(store)
    by_key = {(a.rule_id, a.enterprise_id, a.explanation.get("number")): a for a in alerts}

    silicon = by_key[("steel-silicon-foreign", "ansteel", "CN115198012A")]
    assert silicon.status == "queued" and silicon.severity == "high" and silicon.sector == "steel"
    why = silicon.explanation
    assert why["rule"] == {
        "id": "steel-silicon-foreign",
        "version": 1,
        "title": why["rule"]["title"],
        "severity": "high",
        "category": "risk",
        "status": "active",
    }
    assert "C21D8/12" in why["ipc_overlap"] and "电工钢" in why["matched_terms"]
    assert why["matched_conditions"]["applicant_foreign"] == ["杰富意钢铁株式会社"]
    assert why["as_of"] == "2022-10-18" and why["source"] == "file"

    lapsed = by_key[("lapsed-free-to-use", "anshan-heavy-mining", "CN101880888B")]
    assert lapsed.explanation["legal_event"]["code"] == "CF01" and lapsed.legal_event_id is not None
    assert lapsed.explanation["rule"]["category"] == "opportunity"

    screening = by_key[("infringement-screening", "liaoning-magnesia", "CN209098123U")]
    sim = screening.explanation["similarity"]
    assert sim["score"] >= sim["threshold"] and "镁砂" in sim["overlapping_terms"]
    assert "not a legal assessment" in sim["note"]

    own = by_key[("own-patent-status-change", "ansteel", "CN102373366B")]
    assert own.severity == "critical"
    # the bureau keeps rule matches no subscriber covers (enterprise null, never mailed)
    coke = by_key[("chemicals-needle-coke", None, "CN115200003A")]
    assert coke.status == "new"
    # test-status rules record alerts, never queue mail
    trial = [a for a in alerts if a.rule_id == "steel-any-foreign-trial"]
    assert trial and all(a.status == "test" for a in trial)

    with store.session() as session:
        outbox = session.scalars(select(OutboxMessage)).all()
        queued = {a.id for a in alerts if a.status == "queued"}
        assert {m.alert_id for m in outbox} == queued
        assert {m.recipient for m in outbox if m.alert_id == silicon.id} == {
            "ip@ansteel.example.cn",
            "tech-centre@ansteel.example.cn",
        }
        assert all(m.due_at >= NOW for m in outbox)

    again = run_match_stage(
        StageContext(settings=cfg, store=store, now=NOW + dt.timedelta(hours=1))
    )
    assert again.counts["documents"] == 0 and again.counts["alerts"] == 0
    assert len(_alerts(store)) == len(alerts)


def test_new_legal_event_on_old_document_alerts_only_the_event(store, settings, tmp_path):
    cfg, _ = _prepare(store, settings, tmp_path)
    run_match_stage(StageContext(settings=cfg, store=store, now=NOW))
    before = len(_alerts(store))
    with store.session() as session:
        doc_id = session.scalar(select(Document.id).where(Document.number == "CN115198012A"))
        ingest_legal_event(
            session, doc_id, LegalEventRecord(code="CF01", date=dt.date(2022, 11, 1)), source="file"
        )
    result = run_match_stage(
        StageContext(settings=cfg, store=store, now=NOW + dt.timedelta(days=7))
    )
    new = _alerts(store)[before:]
    assert result.counts["documents"] == 1
    assert {(a.rule_id, a.enterprise_id) for a in new} == {("lapsed-free-to-use", "ansteel")}
    assert new[0].explanation["legal_event"]["date"] == "2022-11-01"


def test_changed_rule_without_new_version_is_an_error_naming_the_file(store, settings, tmp_path):
    cfg, rules_dir = _prepare(store, settings, tmp_path)
    run_match_stage(StageContext(settings=cfg, store=store, now=NOW))
    write(rules_dir / "trial.yaml", TEST_RULE.replace("severity: low", "severity: medium"))
    result = run_match_stage(StageContext(settings=cfg, store=store, now=NOW))
    assert result.status == "failed"
    assert (
        f"{rules_dir / 'trial.yaml'}:1: version:" in result.note
        and "bump the version" in result.note
    )
    with store.session() as session:
        stored = session.scalars(
            select(Rule).where(Rule.rule_id == "steel-any-foreign-trial")
        ).one()
        assert stored.severity == "low"
    write(
        rules_dir / "trial.yaml",
        TEST_RULE.replace("severity: low", "severity: medium").replace("version: 1", "version: 2"),
    )
    assert run_match_stage(StageContext(settings=cfg, store=store, now=NOW)).status == "ok"
    with store.session() as session:
        assert (
            session.scalar(
                select(func.count())
                .select_from(Rule)
                .where(Rule.rule_id == "steel-any-foreign-trial")
            )
            == 2
        )


def test_a_document_waits_for_its_tags_and_alerts_when_they_arrive(store, settings, tmp_path):
    """Progress is by identity: no time window, no watermark; a run with nothing new is idle."""
    from warning.records import DocumentRecord
    from warning.store.ingest import ingest_document

    cfg, _ = _prepare(store, settings, tmp_path)
    run_match_stage(StageContext(settings=cfg, store=store, now=NOW))
    with store.session() as session:
        original = session.scalars(select(Document).where(Document.number == "CN115198012A")).one()
        late = DocumentRecord(
            office="CN",
            number="CN115198999A",
            kind="A",
            title=original.title,
            abstract=original.abstract,
            applicants=original.applicants,
            addresses=original.addresses,
            ipc=original.ipc,
            publication_date=original.publication_date,
        )
        late_id = ingest_document(session, late).document_ids[0]
    waiting = run_match_stage(
        StageContext(settings=cfg, store=store, now=NOW + dt.timedelta(minutes=10))
    )
    assert waiting.counts["waiting_for_tags"] == 1 and waiting.counts["documents"] == 0
    assert not [a for a in _alerts(store) if a.document_id == late_id]
    assert "1 document(s) and 0 legal event(s) wait for tags" in waiting.note
    tag_like_ipc(store, skip=tuple(d["number"] for d in doc_dicts()))
    result = run_match_stage(
        StageContext(settings=cfg, store=store, now=NOW + dt.timedelta(days=30))
    )
    late_alerts = [a for a in _alerts(store) if a.document_id == late_id]
    assert late_alerts and result.counts["documents"] == 1
    again = run_match_stage(
        StageContext(settings=cfg, store=store, now=NOW + dt.timedelta(days=31))
    )
    assert (again.counts["documents"], again.counts["rechecked"], again.counts["alerts"]) == (
        0,
        0,
        0,
    )

"""Deadline alert kinds: "expiring in my scope" and "own patents' fee anniversaries".

Documents: real records of the 2019 gazette sample (``tests/forecast_support``) turned into
grants with chosen filing dates (numbers re-suffixed), so their terms and fee anniversaries fall
inside or outside the shipped rules' windows (``rules/library/deadlines.yaml``).
"""

from __future__ import annotations

import datetime as dt
import json
import shutil

from sqlalchemy import select

from rules.loader import load_subscription_file
from rules.repository import import_subscriptions
from rules.stage import run_match_stage
from tests.conftest import settings_for
from tests.forecast_support import granted_record, ingest, sector_rows
from tests.rules_support import LIBRARY, run_cli, use_store, write
from warning.delivery.message import explanation_rows
from warning.pipeline import StageContext
from warning.records import LegalEventRecord
from warning.store.models import Alert, OutboxMessage

NOW = dt.datetime(2026, 12, 1, 2, 0, tzinfo=dt.UTC)  # 10:00 in Asia/Shanghai
DEADLINE_RULES = ("expiring-in-scope", "own-patent-fee-anniversary")


def _subscriptions(path, own: str):
    return write(
        path,
        f"""\
enterprises:
  - id: anshan-equipment
    name: 鞍山某装备有限公司
    recipients: [ip@equipment.example.cn]
    subscriptions:
      - name: equipment
        scope:
          sectors: [equipment]
          own_patents: [{own}]
  - id: liaoning-optics
    name: 辽宁某光电有限公司
    recipients: [ip@optics.example.cn]
    subscriptions:
      - name: optics
        scope:
          sectors: [optoelectronics]
""",
    )


def _deadline_alerts(store):
    with store.read_session() as session:
        return session.scalars(
            select(Alert).where(Alert.rule_id.in_(DEADLINE_RULES)).order_by(Alert.id)
        ).all()


def _with_deadline_rules(store, settings, tmp_path, records, own):
    """Store ``records``, give the match stage the library's deadline rules and subscribe the
    example enterprise with ``own`` as its own patent; the settings to run with."""
    ingest(store, records)
    rules_dir = tmp_path / "rules"
    rules_dir.mkdir()
    shutil.copy(LIBRARY / "deadlines.yaml", rules_dir / "deadlines.yaml")
    with store.session() as session:
        import_subscriptions(
            session, load_subscription_file(_subscriptions(tmp_path / "subs.yaml", own.number)), NOW
        )
    return settings_for(store, settings).model_copy(update={"rules_dir": rules_dir})


def test_deadline_alerts_flow_to_the_outbox_once_with_an_explanation(store, settings, tmp_path):
    rows = sector_rows("equipment")
    expiring = granted_record(rows[0], "U", dt.date(2016, 12, 20))  # term ends 2026-12-19
    later = granted_record(rows[1], "U", dt.date(2017, 6, 20))  # ends 2027-06-19: outside
    own = granted_record(rows[2], "B", dt.date(2015, 1, 15))  # fee due 2027-01-15 (year 13)
    other_fee = granted_record(rows[3], "B", dt.date(2014, 1, 10))  # not own: no fee alert
    cfg = _with_deadline_rules(store, settings, tmp_path, [expiring, later, own, other_fee], own)

    result = run_match_stage(StageContext(settings=cfg, store=store, now=NOW))
    assert result.status == "ok", result.note
    alerts = _deadline_alerts(store)
    got = {(a.rule_id, a.enterprise_id, a.explanation["number"]) for a in alerts}
    assert got == {
        ("expiring-in-scope", "anshan-equipment", expiring.number),
        ("own-patent-fee-anniversary", "anshan-equipment", own.number),
    }
    expiry = next(a for a in alerts if a.rule_id == "expiring-in-scope")
    assert expiry.status == "queued" and expiry.sector == "equipment"
    assert expiry.explanation["deadline"]["date"] == "2026-12-19"
    assert expiry.explanation["rule"]["category"] == "opportunity"
    assert expiry.explanation["scope"] == {"sectors": ["equipment"]}
    assert (
        "2026-12-19" in expiry.explanation["reason"] and "自由实施" in expiry.explanation["reason"]
    )
    fee = next(a for a in alerts if a.rule_id == "own-patent-fee-anniversary")
    assert fee.explanation["deadline"] == {
        "event": "fee_anniversary",
        "date": "2027-01-15",
        "expiry": "2035-01-14",
        "fee_year": 13,
        "grace_until": "2027-07-15",
        "own": True,
    }
    assert fee.explanation["scope"]["own_patents"] == [own.number]
    card = dict(explanation_rows(fee.explanation, {}))  # what the mail card shows
    assert "2027-01-15" in card["期限"] and "第 13 年年费" in card["原因"]
    with store.read_session() as session:
        outbox = session.scalars(select(OutboxMessage)).all()
    assert {(m.alert_id, m.recipient) for m in outbox} == {
        (a.id, "ip@equipment.example.cn") for a in alerts
    }

    # idempotent: the same day again (forced) and the next day add nothing
    for later_now, force in (
        (NOW + dt.timedelta(hours=1), True),
        (NOW + dt.timedelta(days=1), False),
    ):
        again = run_match_stage(StageContext(settings=cfg, store=store, now=later_now, force=force))
        assert again.status == "ok", again.note
        assert again.counts.get("deadline_alerts", 0) == 0
    assert len(_deadline_alerts(store)) == len(alerts)
    with store.read_session() as session:
        assert len(session.scalars(select(OutboxMessage)).all()) == len(outbox)


def _would_be(out: str) -> set[tuple[str, str, str, str]]:
    rows = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    return {
        (r["rule_id"], r["enterprise"], r["number"], r["explanation"]["deadline"]["date"])
        for r in rows
        if "rule_id" in r
    }


def _stored(store) -> set[tuple[str, str, str, str]]:
    return {
        (a.rule_id, a.enterprise_id, a.explanation["number"], a.explanation["deadline"]["date"])
        for a in _deadline_alerts(store)
    }


def test_rules_test_shows_the_deadline_alerts_the_live_match_raises(
    store, settings, tmp_path, monkeypatch, capsys
):
    """`ipwarn rules test --since/--until` on deadline rules: the alerts the daily match raises
    over the period, the same ones (rule, enterprise, right, date) the live match stores."""
    rows = sector_rows("equipment")
    expiring = granted_record(rows[0], "U", dt.date(2016, 12, 20))  # term ends 2026-12-19
    later = granted_record(rows[1], "U", dt.date(2017, 6, 20))  # ends 2027-06-19: in 2027-03
    own = granted_record(rows[2], "B", dt.date(2015, 1, 15))  # fee due 2027-01-15 (year 13)
    lapsed = granted_record(  # would expire 2027-01-04, but lapsed for an unpaid fee in 2026
        rows[3], "U", dt.date(2017, 1, 5), [_lapse(dt.date(2026, 3, 1))]
    )
    cfg = _with_deadline_rules(store, settings, tmp_path, [expiring, later, own, lapsed], own)
    rules_dir = cfg.rules_dir
    use_store(monkeypatch, store, tmp_path)
    rules_file = str(rules_dir / "deadlines.yaml")

    code, out, err = run_cli(
        ["rules", "test", rules_file, "--since", "2026-12-01", "--until", "2026-12-01", "--json"],
        capsys,
    )
    assert code == 0, err
    first_day = _would_be(out)
    assert first_day == {
        ("expiring-in-scope", "anshan-equipment", expiring.number, "2026-12-19"),
        ("own-patent-fee-anniversary", "anshan-equipment", own.number, "2027-01-15"),
    }
    assert "2 of them deadline alert(s) of the rights in force among 4 stored grant(s)" in err
    assert run_match_stage(StageContext(settings=cfg, store=store, now=NOW)).status == "ok"
    assert _stored(store) == first_day  # the live match of that day stores the same alerts

    # over a period: each day's window, as the daily match would see it
    code, out, err = run_cli(
        ["rules", "test", rules_file, "--since", "2026-12-01", "--until", "2027-03-20"], capsys
    )
    assert code == 0, err
    assert f"expiring-in-scope\tv1\t{later.number}\tanshan-equipment\tlow" in out
    assert "deadline=expiry" in out and lapsed.number not in out
    assert "diff expiring-in-scope v1 vs v1: +0 -0" in err  # the stored active version agrees
    code, out, _ = run_cli(
        ["rules", "test", rules_file, "--since", "2026-12-01", "--until", "2027-03-20", "--json"],
        capsys,
    )
    period = _would_be(out)
    assert period == first_day | {
        ("expiring-in-scope", "anshan-equipment", later.number, "2027-06-19")
    }
    later_day = dt.datetime(2027, 3, 20, 2, 0, tzinfo=dt.UTC)
    assert run_match_stage(StageContext(settings=cfg, store=store, now=later_day)).status == "ok"
    assert _stored(store) == period

    # a file of parsed documents has no filing dates nor events to judge rights by: it says so
    docs = write(tmp_path / "docs.jsonl", "")
    code, _, err = run_cli(["rules", "test", rules_file, "--docs", str(docs)], capsys)
    assert code == 0 and "2 deadline rule(s) not tested" in err and "--since" in err


def _lapse(day: dt.date) -> LegalEventRecord:
    return LegalEventRecord(code="CF01", date=day, description="未缴年费专利权终止")

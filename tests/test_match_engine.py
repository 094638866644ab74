"""The indexed matcher finds exactly what the naive loop finds, and explains it."""

from __future__ import annotations

import datetime as dt

from benchmarks.bench_match import load_sample, make_docs, make_rules, make_subscriptions
from rules.docview import EventView, MatchDoc
from rules.engine import CompiledRule, CompiledSubscription, Matcher
from rules.spec import RuleSpec, SubscriptionSpec


def _rule(**when) -> CompiledRule:
    notify = when.pop("notify", "subscribers")
    return CompiledRule.build(
        RuleSpec.model_validate(
            {
                "id": "r-" + "-".join(sorted(when)).replace("_", "-"),
                "version": 1,
                "title": "t",
                "severity": "low",
                "when": when,
                "notify": notify,
            }
        )
    )


def _sub(enterprise: str, **scope) -> CompiledSubscription:
    return CompiledSubscription.build(
        enterprise,
        enterprise,
        [f"ip@{enterprise}.example.cn"],
        SubscriptionSpec.model_validate({"scope": scope}),
    )


def _doc(**kw) -> MatchDoc:
    base = dict(
        number="CN115000001A",
        office="CN",
        kind="A",
        title="一种无取向硅钢的制造方法",
        applicants=["新日铁住金株式会社"],
        addresses=["日本东京都"],
        ipc=["C21D8/12"],
        publication_date=dt.date(2026, 11, 20),
        sectors={"steel": 0.9},
        subfields={"steel.silicon_steel": 0.8},
    )
    base.update(kw)
    return MatchDoc(**base)


def test_indexed_and_naive_agree_on_realistic_synthetic_input():
    sample = load_sample()
    docs = make_docs(sample, 400, seed=11)
    matcher = Matcher(make_rules(sample, 80, seed=12), make_subscriptions(sample, 400, seed=13))
    indexed = sorted(m.dedupe_key for m in matcher.match_batch(docs))
    naive = sorted(m.dedupe_key for m in matcher.match_batch(docs, naive=True))
    assert indexed == naive
    assert len(indexed) > 50  # the comparison is not vacuous


def test_applicant_names_match_across_legal_forms_and_widths():
    matcher = Matcher([_rule(applicants=["新日铁住金", "ＰＯＳＣＯ Co., Ltd."], notify="none")])
    assert matcher.match(_doc())
    assert matcher.match(_doc(applicants=["POSCO"], addresses=["韩国"]))
    assert not matcher.match(_doc(applicants=["鞍钢股份有限公司"], addresses=["辽宁省鞍山市"]))


def test_negated_keyword_excludes_even_when_the_indexed_term_occurs():
    rule = _rule(keywords="硅钢 AND NOT 设备", notify="none")
    matcher = Matcher([rule])
    assert matcher.match(_doc())
    assert not matcher.match(_doc(title="一种硅钢退火设备"))


def test_event_rules_alert_per_event_and_only_the_covering_enterprise():
    lapsed = _rule(legal_events=["CF01", "CX01"])
    steel = _sub("ansteel", subfields=["steel.silicon_steel"])
    mining = _sub("mining", ipc=["B02C"])
    matcher = Matcher([lapsed], [steel, mining])
    doc = _doc(
        events=[EventView("CF01", dt.date(2026, 11, 1)), EventView("TR01", dt.date(2026, 11, 2))]
    )
    matches = matcher.match(doc)
    assert [(m.enterprise_id, m.subject) for m in matches] == [
        ("ansteel", "event:CN115000001A:CF01:2026-11-01")
    ]
    assert matches[0].explanation["scope"] == {"subfields": {"steel.silicon_steel": 0.8}}
    assert matches[0].explanation["legal_event"]["code"] == "CF01"
    # an old document that only gained an event does not re-fire document rules
    doc_rule = _rule(subfields=["steel.silicon_steel"])
    old = _doc(is_new_publication=False, events=[EventView("CF01", dt.date(2026, 11, 1))])
    assert [m.rule.id for m in Matcher([doc_rule, lapsed], [steel]).match(old)] == [lapsed.id]


def test_competitor_rule_reaches_only_enterprises_naming_that_competitor():
    rule = _rule(competitor=True)
    watcher = _sub("ansteel", competitors=["新日铁"], ipc=["H01L"])
    other = _sub("other", subfields=["steel.silicon_steel"])
    matches = Matcher([rule], [watcher, other]).match(_doc())
    assert [(m.enterprise_id, m.explanation["competitors"]) for m in matches] == [
        ("ansteel", ["新日铁"])
    ]


def test_rule_match_without_covering_subscriber_is_kept_for_the_bureau():
    rule = _rule(ipc=["C21D8/12"])
    matches = Matcher([rule], [_sub("mining", ipc=["B02C"])]).match(_doc())
    assert [(m.enterprise_id, m.dedupe_key) for m in matches] == [
        (None, f"{rule.id}|-|doc:CN115000001A")
    ]

"""Screening reads what a product is: compounds written apart, the head concept, the own IPC.

Documents are real 2019-W28 gazette records from the judged screening set
(tests/fixtures/screening/judgments.tsv, origin in its PROTOCOL.md); products are those of the
set (the LED package of the anshan-optoelec example subscription, the evaluation's graphite
anode). Where a test re-classifies a record to isolate one factor, it says so.
"""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from rules.docview import MatchDoc
from rules.evaluate_screening import load_products, product_profiles
from rules.loader import load_subscription_file
from rules.repository import compiled_from_file
from rules.similarity import SimilarityScreen, head_concept, profiles_for
from rules.storedocs import ipc_tags
from rules.termweights import terms

FIXTURES = Path(__file__).parent / "fixtures" / "screening"
EXAMPLES = Path(__file__).parent.parent / "rules" / "examples" / "subscriptions.yaml"
OPTO = "anshan-optoelec/default"


def _records() -> dict[tuple[str, str], dict[str, str]]:
    with (FIXTURES / "judgments.tsv").open(encoding="utf-8") as handle:
        return {(r["product"], r["number"]): r for r in csv.DictReader(handle, delimiter="\t")}


RECORDS = _records()


def doc(product: str, number: str, *, ipc: list[str] | None = None) -> MatchDoc:
    row = RECORDS[(product, number)]
    d = MatchDoc(number=number, office="CN", kind=row["kind"], title=row["title"])
    d.ipc = ipc if ipc is not None else row["ipc"].split()
    d.sectors, d.subfields = ipc_tags(d.ipc)
    return d


@pytest.fixture(scope="module")
def opto():
    subs = [s for s in compiled_from_file(load_subscription_file(EXAMPLES)) if s.key == OPTO]
    return SimilarityScreen(profiles_for(subs, {}))


def _anode_profiles():
    return product_profiles([p for p in load_products() if p.id == "chem-graphite-anode"])


def test_a_compound_written_apart_is_still_the_compound():
    assert "led封装" in terms("发光二极管芯片的封装结构及封装方法")  # LED…的封装
    assert "led封装" in terms("一种倒装芯片压合机及倒装发光二极管的封装方法")
    assert "石墨负极材料" in terms("锂离子电池人造石墨负极材料")
    assert "led封装" not in terms("OLED封装方法")  # an OLED is not an LED
    assert "led封装" not in terms("LED倒装晶片集成封装结构")  # six characters apart: not one phrase
    assert "led封装" not in terms("LED灯具及封装方法")  # a list, not one noun phrase
    assert "取向硅钢" not in terms("无取向电工钢板的制备方法")  # 无取向硅钢 is another steel


def test_an_led_package_written_differently_alerts_and_names_the_concept(opto):
    written_apart = doc("opto-led-package", "CN109994593A")  # 发光二极管芯片的封装结构及封装方法
    hit = opto.screen([written_apart])[0][OPTO]
    why = hit.explain()
    assert why["against"].startswith("product 2: 大功率LED芯片封装")
    assert why["head_concept"] == "led封装" and "led封装" in why["term_weights"]
    assert why["score"] >= why["threshold"]
    # a semiconductor chip package names 封装 and 芯片 but not what the product is
    chip = doc("opto-led-package", "CN109994437A")  # 芯片封装结构及其制作方法, H01L23/31
    assert opto.screen([chip]) == [{}]


def test_a_document_lacking_the_head_concept_does_not_alert():
    """A silicon-carbon anode sheet shares 负极 and 锂离子 with the graphite-anode product, in
    its own IPC (H01M4/133); it does not name 石墨负极材料, so it does not alert. A graphite
    anode does."""
    other = doc("chem-graphite-anode", "CN209104267U")  # 一种锂离子电池硅碳负极极片, related
    graphite = doc("chem-graphite-anode", "CN106941151B")  # 石墨烯复合石墨负极材料..., relevant
    gated = SimilarityScreen(_anode_profiles())
    ungated = SimilarityScreen(_anode_profiles(), require_head=False)
    assert gated.heads[0].word == "石墨负极材料"
    assert ungated.screen([other])[0]  # the words alone would alert
    assert gated.screen([other]) == [{}]
    assert gated.screen([graphite])[0]["chem-graphite-anode"].head_concept == "石墨负极材料"


def test_a_system_of_coordinated_parts_is_what_the_machine_it_belongs_to_is():
    """A cone crusher's "液压过铁保护和排料口自动调节系统" is a system of the machine: the head
    concept is 圆锥破碎机, not 排料口 (the last of the two coordinated functions); a cone-crusher
    control device of the judged set alerts, a jaw crusher does not."""
    products = [p for p in load_products() if p.id == "ashm-cone"]
    screen = SimilarityScreen(product_profiles(products))
    assert screen.heads[0].word == "圆锥破碎机"
    control = doc("ashm-cone", "CN209093598U")  # 一种单缸液压圆锥破碎机远程控制装置, relevant
    jaw = doc("ashm-cone", "CN209076741U")  # 一种鄂式破碎机, related: no cone crusher
    assert screen.screen([control])[0]["ashm-cone"].head_concept == "圆锥破碎机"
    assert screen.screen([jaw]) == [{}]
    # without coordination the nearest modifier of the generic head stays the head
    assert head_concept("圆锥破碎机过铁保护系统", screen.weights).word == "过铁保护"


def test_the_subscriptions_own_ipc_has_its_own_lower_bar(opto):
    """The same title in H01L33/ (the subscription's IPC) alerts; re-classified into
    H01L25/075 (still in the field, through the electronics sub-field, not its own IPC) it must
    meet the bar calibrated on the whole, much larger field."""
    red = doc("opto-led-package", "CN109994590A")  # 一种红光LED封装器件及其制作方法, H01L33/48
    own, field = opto.screen([red, doc("opto-led-package", "CN109994590A", ipc=["H01L25/075"])])
    hit = own[OPTO]
    cal = next(c for p, c in zip(opto.profiles, opto.calibrations, strict=True) if "LED" in p.label)
    assert hit.bar == "own IPC" and hit.threshold == cal.threshold_close < cal.threshold_in
    assert cal.threshold_close <= hit.score < cal.threshold_in
    assert field == {}
    # the lower bar decides that it alerts, not how loudly: weak against the field's bar
    assert hit.severity == "low" and "weak match" in hit.severity_reason

"""The labelled screening set is complete and consistent, and its scoring counts what it says."""

from __future__ import annotations

from rules.evaluate_screening import FIXTURES, LABELS, load_judgments, load_products, score


def test_every_product_has_judged_candidates_with_valid_labels():
    products = load_products()
    judged = load_judgments()
    assert [p.id for p in products] == list(judged)
    sectors = {sf.split(".")[0] for p in products for sf in p.scope.get("subfields", [])}
    assert sectors == {"steel", "equipment", "chemicals", "minerals", "optoelectronics"}
    for product in products:
        labels = judged[product.id]
        assert set(labels.values()) <= set(LABELS)
        assert "relevant" in labels.values(), product.id
    assert (FIXTURES / "PROTOCOL.md").read_text(encoding="utf-8").count("relevant") > 3


def test_demo_products_are_read_from_the_example_subscriptions():
    by_id = {p.id: p for p in load_products()}
    assert by_id["ansteel-ngo"].text.startswith("冷轧无取向电工钢")
    assert by_id["ansteel-ngo"].scope["ipc"] == ["C21D8/12", "H01F1/147", "C21D9/46"]


def test_precision_is_strict_and_unjudged_alerts_count_against_it():
    judged = {"A": "relevant", "B": "related", "C": "unrelated", "D": "relevant"}
    s = score({"A", "B", "X"}, judged)
    assert (s.alerts, s.relevant_alerts, s.lenient_alerts, s.unjudged) == (3, 1, 2, 1)
    assert s.precision == 1 / 3 and s.lenient_precision == 2 / 3 and s.recall == 1 / 2

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


def test_a_new_product_pool_lists_only_unjudged_candidates_with_their_methods():
    """`--pool` on a small slice of the real week: judged pairs are left out, the rest say which
    method found them; the two mould copper plates are found by the current screening."""
    from rules.docview import MatchDoc
    from rules.evaluate_screening import pool
    from rules.storedocs import ipc_tags

    product = next(p for p in load_products() if p.id == "equip-cc-mould")
    rows = [(n, r) for n, r in _rows() if r["product"] == "equip-cc-mould"]
    docs = []
    for number, row in rows:
        d = MatchDoc(number=number, office="CN", kind=row["kind"], title=row["title"])
        d.ipc = row["ipc"].split()
        d.sectors, d.subfields = ipc_tags(d.ipc)
        docs.append(d)
    judged = load_judgments()["equip-cc-mould"]
    plates = {"CN110000348A", "CN110000349A"}  # 结晶器宽面铜板, judged relevant
    partly = {n: label for n, label in judged.items() if n not in plates}
    found = pool(product, docs, partly, query="结晶器")
    assert set(found) == plates
    assert all({"new", "indep", "query"} <= found[n] for n in plates)
    assert pool(product, docs, judged, query="结晶器") == {}


def _rows():
    import csv

    with (FIXTURES / "judgments.tsv").open(encoding="utf-8") as handle:
        return [(r["number"], r) for r in csv.DictReader(handle, delimiter="\t")]

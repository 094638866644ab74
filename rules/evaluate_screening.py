"""Precision and recall of infringement-risk screening on the labelled 2019-W28 set.

``python -m rules.evaluate_screening`` screens the real gazette week (the packaged 64,466
invention/utility titles of 2019-07-09 and 2019-07-12, or ``--docs`` `ipwarn parse` lines) with
the previous screening (TF-IDF cosine, one threshold) and the current one side by side, scores
both against the judgments in ``tests/fixtures/screening/`` (protocol and rubric in its
PROTOCOL.md) and counts screening alerts per example enterprise. ``--pool PRODUCT`` prints the
unjudged candidates of a product (the union of what each method returns plus an independent
retrieval and an expert ``--query``), to be judged by the rubric and added to judgments.tsv.
"""

from __future__ import annotations

import argparse
import csv
import gzip
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from rules.docview import MatchDoc
from rules.similarity import Field, Profile, SimilarityHit, SimilarityScreen
from rules.storedocs import ipc_tags
from warning.errors import InputError, Problem

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "fixtures" / "screening"
EXAMPLES = Path(__file__).resolve().parent / "examples" / "subscriptions.yaml"
GAZETTE = ROOT / "models" / "data" / "gazette_2019.jsonl.gz"
KIND_LETTER = {"invention_published": "A", "invention_authorized": "B", "utility_new": "U"}
#: candidates per product from the independent retrieval (character n-gram cosine)
POOL_DEPTH = 30
LABELS = ("relevant", "related", "unrelated")


@dataclass(frozen=True)
class Product:
    id: str
    enterprise: str
    subscription: str
    text: str
    scope: dict[str, Any]


def load_products(path: Path = FIXTURES / "products.yaml") -> list[Product]:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    examples = yaml.safe_load(EXAMPLES.read_text(encoding="utf-8"))
    subs = {
        (e["id"], s["name"]): s for e in examples["enterprises"] for s in e.get("subscriptions", [])
    }
    out = []
    for i, item in enumerate(data["products"]):
        if "text" in item:
            out.append(
                Product(item["id"], item["enterprise"], "default", item["text"], item["scope"])
            )
            continue
        sub = subs.get((item["enterprise"], item["subscription"]))
        if sub is None:
            raise InputError(
                [Problem("no such example subscription", file=str(path), field=f"products.{i}")]
            )
        scope = dict(sub["scope"])
        text = scope.pop("products")[item["product"] - 1]
        out.append(Product(item["id"], item["enterprise"], item["subscription"], text, scope))
    return out


def load_week(path: Path | None = None) -> list[MatchDoc]:
    """The W28 documents (A/B/U) with IPC-derived tags."""
    docs: list[MatchDoc] = []
    if path is None:
        with gzip.open(GAZETTE, "rt", encoding="utf-8") as handle:
            for line in handle:
                row = json.loads(line)
                docs.append(
                    MatchDoc(
                        number=row["number"],
                        office="CN",
                        kind=KIND_LETTER.get(row["kind"], row["number"][-1]),
                        title=row["title"],
                        ipc=list(row["ipc"]),
                    )
                )
    else:
        from rules.docview import doc_from_json

        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                doc = doc_from_json(json.loads(line))
                if doc.kind_letter in ("A", "B", "U"):
                    docs.append(doc)
    for doc in docs:
        doc.sectors, doc.subfields = ipc_tags(doc.ipc)
    return docs


def product_profiles(products: Sequence[Product]) -> list[Profile]:
    """Each product is its own profile (keyed by the product id) with its subscription's field."""
    out = []
    for p in products:
        scope = p.scope
        f = Field(
            sectors=frozenset(scope.get("sectors", [])),
            subfields=frozenset(scope.get("subfields", [])),
            ipc=tuple(scope.get("ipc", [])),
        )
        out.append(Profile(p.id, f"product: {p.text[:40]}", p.text, f))
    return out


def load_judgments(path: Path = FIXTURES / "judgments.tsv") -> dict[str, dict[str, str]]:
    """product id -> publication number -> label."""
    out: dict[str, dict[str, str]] = {}
    with path.open(encoding="utf-8") as handle:
        for row in csv.DictReader(handle, delimiter="\t"):
            out.setdefault(row["product"], {})[row["number"]] = row["label"]
    return out


def new_alerts(
    products: Sequence[Product], docs: Sequence[MatchDoc], **options: Any
) -> tuple[dict[str, dict[str, SimilarityHit]], SimilarityScreen]:
    """product id -> number -> hit, with the current screening (``options`` for
    :class:`SimilarityScreen`)."""
    screen = SimilarityScreen(product_profiles(products), **options)
    out: dict[str, dict[str, SimilarityHit]] = {p.id: {} for p in products}
    for doc, hits in zip(docs, screen.screen(docs), strict=True):
        for key, hit in hits.items():
            out[key][doc.number] = hit
    return out, screen


def old_alerts(
    products: Sequence[Product], docs: Sequence[MatchDoc]
) -> dict[str, dict[str, float]]:
    """product id -> number -> score, with the previous screening."""
    from rules.screening_baseline import BaselineScreen

    screen = BaselineScreen({p.id: [("product 1", p.text)] for p in products})
    out: dict[str, dict[str, float]] = {p.id: {} for p in products}
    texts = [" ".join((d.title, d.abstract, d.claims)) for d in docs]
    for doc, hits in zip(docs, screen.screen(texts), strict=True):
        for key, hit in hits.items():
            out[key][doc.number] = hit.score
    return out


@dataclass
class Score:
    alerts: int = 0
    relevant_alerts: int = 0
    lenient_alerts: int = 0
    unjudged: int = 0
    relevant: int = 0
    found: int = 0

    def add(self, other: Score) -> None:
        for name in vars(self):
            setattr(self, name, getattr(self, name) + getattr(other, name))

    @property
    def precision(self) -> float | None:
        return self.relevant_alerts / self.alerts if self.alerts else None

    @property
    def lenient_precision(self) -> float | None:
        return self.lenient_alerts / self.alerts if self.alerts else None

    @property
    def recall(self) -> float | None:
        return self.found / self.relevant if self.relevant else None


def score(alerted: set[str], judged: dict[str, str]) -> Score:
    relevant = {n for n, label in judged.items() if label == "relevant"}
    return Score(
        alerts=len(alerted),
        relevant_alerts=len(alerted & relevant),
        lenient_alerts=sum(1 for n in alerted if judged.get(n) in ("relevant", "related")),
        unjudged=sum(1 for n in alerted if n not in judged),
        relevant=len(relevant),
        found=len(alerted & relevant),
    )


#: the one numeric parameter chosen on this labelled set: the own-IPC budget of
#: :class:`SimilarityScreen` (0: no own-IPC bar; 1: the field's budget again over the own IPC)
CLOSE_BUDGETS = (0.0, 0.5, 1.0)


def _f1(s: Score) -> float:
    p, r = s.precision or 0.0, s.recall or 0.0
    return 2 * p * r / (p + r) if p + r else 0.0


def held_out(
    products: Sequence[Product],
    docs: Sequence[MatchDoc],
    judged: dict[str, dict[str, str]],
    budgets: Sequence[float] = CLOSE_BUDGETS,
) -> dict[str, Any]:
    """Leave-one-product-out: for each product, the own-IPC budget that gives the best F1
    (strict precision, recall) on the other products, measured on the product left out; the
    held-out scores are summed over the products."""
    by_budget: dict[float, dict[str, Score]] = {}
    for budget in budgets:
        alerts, _ = new_alerts(products, docs, close_budget=budget)
        by_budget[budget] = {p.id: score(set(alerts[p.id]), judged.get(p.id, {})) for p in products}
    total = Score()
    chosen: dict[str, float] = {}
    for product in products:

        def training(budget: float, left_out: str = product.id) -> float:
            agg = Score()
            for pid, s in by_budget[budget].items():
                if pid != left_out:
                    agg.add(s)
            return _f1(agg)

        best = max(budgets, key=lambda b: (training(b), -b))
        chosen[product.id] = best
        total.add(by_budget[best][product.id])
    per_budget = {}
    for budget, scores in by_budget.items():
        agg = Score()
        for s in scores.values():
            agg.add(s)
        per_budget[str(budget)] = vars(agg)
    return {"held_out": vars(total), "chosen": chosen, "per_budget": per_budget}


def screening_alerts_per_enterprise(
    docs: Sequence[MatchDoc],
) -> dict[str, tuple[int, int, dict[str, int]]]:
    """Enterprise -> (previous, current, current by severity) screening alerts on the week with
    the example subscriptions, through the live matcher (the packaged ``infringement-screening``
    rule; the previous screening raised every hit at the rule's former severity, high)."""
    from rules.backtest import run_backtest, screen_for
    from rules.engine import CompiledRule, Match
    from rules.loader import load_rules, load_subscription_file, packaged_library
    from rules.repository import compiled_from_file
    from rules.screening_baseline import BaselineScreen

    loaded, _ = load_rules([packaged_library() / "subscribers.yaml"])
    rules = [CompiledRule.build(r.spec) for r in loaded if r.spec.id == "infringement-screening"]
    subs = compiled_from_file(load_subscription_file(EXAMPLES))
    current = run_backtest(rules, docs, subs, _now(), screen=screen_for(rules, subs, docs))
    baseline = BaselineScreen(
        {
            s.key: [(f"product {i + 1}", p) for i, p in enumerate(s.spec.scope.products)]
            for s in subs
        }
    )
    texts = [" ".join((d.title, d.abstract, d.claims)) for d in docs]
    previous: dict[str, int] = {}
    for doc, hits in zip(docs, baseline.screen(texts), strict=True):
        for key in {k.split("/")[0] for k in hits}:
            sub = next(s for s in subs if s.enterprise_id == key)
            if not sub.is_own(doc) and doc.kind_letter in ("A", "B", "U"):
                previous[key] = previous.get(key, 0) + 1
    out: dict[str, tuple[int, int, dict[str, int]]] = {}
    for sub in subs:
        mine = [m for m in current if m.enterprise_id == sub.enterprise_id]
        severities: dict[str, int] = {}
        for m in mine:
            severity = m.severity if isinstance(m, Match) else m.rule.spec.severity
            severities[severity] = severities.get(severity, 0) + 1
        out[sub.enterprise_id] = (previous.get(sub.enterprise_id, 0), len(mine), severities)
    return out


def _now() -> Any:
    import datetime as dt

    return dt.datetime(2019, 7, 14, tzinfo=dt.UTC)


def pool(
    product: Product,
    docs: Sequence[MatchDoc],
    judged: dict[str, str],
    query: str | None = None,
) -> dict[str, set[str]]:
    """The unjudged candidates of one product (number -> methods), pooled as PROTOCOL.md says:
    the previous screening (``old``), the 30 nearest titles by character 2-3-gram TF-IDF cosine
    (``indep``) and the 15 nearest in the product's field (``infield``), an expert regular
    expression over titles (``query``) and the current screening (``new``)."""
    import re

    from sklearn.feature_extraction.text import TfidfVectorizer

    found: dict[str, set[str]] = {}

    def add(number: str, method: str) -> None:
        if number not in judged:
            found.setdefault(number, set()).add(method)

    for number in old_alerts([product], docs)[product.id]:
        add(number, "old")
    for number in new_alerts([product], docs)[0][product.id]:
        add(number, "new")
    titles = [d.title for d in docs]
    vectorizer = TfidfVectorizer(analyzer="char", ngram_range=(2, 3), sublinear_tf=True)
    matrix = vectorizer.fit_transform(titles)
    sims = (matrix @ vectorizer.transform([product.text]).T).toarray().ravel()
    order = sims.argsort()[::-1]
    for i in order[:POOL_DEPTH]:
        add(docs[i].number, "indep")
    f = product_profiles([product])[0].field
    infield = [i for i in order if f.check(docs[i].ipc, docs[i].sectors, docs[i].subfields)]
    for i in infield[: POOL_DEPTH // 2]:
        add(docs[i].number, "infield")
    if query:
        pattern = re.compile(query)
        for d in docs:
            if pattern.search(d.title):
                add(d.number, "query")
    return found


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", type=Path, help="`ipwarn parse` JSON lines instead of the week")
    parser.add_argument("--json", action="store_true", help="machine-readable result")
    parser.add_argument(
        "--held-out",
        action="store_true",
        help="also leave-one-product-out figures for the own-IPC budget (three more screens)",
    )
    parser.add_argument(
        "--pool",
        metavar="PRODUCT",
        help="print the unjudged candidates of one product (TSV rows to judge) and stop",
    )
    parser.add_argument("--query", help="with --pool: the expert regular expression over titles")
    args = parser.parse_args(argv)
    products = load_products()
    judged = load_judgments()
    docs = load_week(args.docs)
    if args.pool:
        product = next((p for p in products if p.id == args.pool), None)
        if product is None:
            raise InputError([Problem(f"no product {args.pool!r}", field="--pool")])
        by_number = {d.number: d for d in docs}
        candidates = pool(product, docs, judged.get(product.id, {}), args.query)
        for number, methods in sorted(candidates.items()):
            d = by_number[number]
            print(
                "\t".join(
                    (
                        product.id,
                        number,
                        d.kind_letter,
                        d.title,
                        " ".join(d.ipc),
                        ",".join(sorted(methods)),
                        "",
                    )
                )
            )
        return 0
    old = old_alerts(products, docs)
    new, screen = new_alerts(products, docs)
    rows: list[dict[str, Any]] = []
    totals = {"previous": Score(), "current": Score()}
    for product in products:
        j = judged.get(product.id, {})
        s_old, s_new = score(set(old[product.id]), j), score(set(new[product.id]), j)
        totals["previous"].add(s_old)
        totals["current"].add(s_new)
        rows.append({"product": product.id, "previous": vars(s_old), "current": vars(s_new)})
    per_enterprise = screening_alerts_per_enterprise(docs)
    calibration = screen.report()
    lopo = held_out(products, docs, judged) if args.held_out else None
    if args.json:
        print(
            json.dumps(
                {
                    "products": rows,
                    "overall": {k: vars(v) for k, v in totals.items()},
                    "alerts_per_enterprise": per_enterprise,
                    "calibration": calibration,
                    "held_out": lopo,
                },
                ensure_ascii=False,
                indent=1,
            )
        )
        return 0
    print(f"{len(docs)} documents; {sum(len(j) for j in judged.values())} judged candidates")
    header = "product               | previous: alerts P(strict) P(lenient) R | current: alerts P(strict) P(lenient) R"
    print(header)
    for product, row in zip(products, rows, strict=True):
        a, b = Score(**row["previous"]), Score(**row["current"])
        print(
            f"{product.id:21} | {a.alerts:6} {_fmt(a.precision):>6} {_fmt(a.lenient_precision):>6}"
            f" {_fmt(a.recall):>5} | {b.alerts:6} {_fmt(b.precision):>6}"
            f" {_fmt(b.lenient_precision):>6} {_fmt(b.recall):>5}"
            + (f"  ({b.unjudged} unjudged)" if b.unjudged else "")
        )
    a, b = totals["previous"], totals["current"]
    print(
        f"{'overall':21} | {a.alerts:6} {_fmt(a.precision):>6} {_fmt(a.lenient_precision):>6}"
        f" {_fmt(a.recall):>5} | {b.alerts:6} {_fmt(b.precision):>6}"
        f" {_fmt(b.lenient_precision):>6} {_fmt(b.recall):>5}"
    )
    if lopo is not None:
        h = Score(**lopo["held_out"])
        print(
            "\nleave-one-product-out (own-IPC budget chosen on the other products by F1):"
            f" {h.alerts} alerts, precision {_fmt(h.precision)} strict /"
            f" {_fmt(h.lenient_precision)} lenient, recall {_fmt(h.recall)};"
            f" chosen {sorted(set(lopo['chosen'].values()))}"
        )
        for budget, agg in lopo["per_budget"].items():
            a = Score(**agg)
            print(
                f"  own-IPC budget {budget}: {a.alerts} alerts, precision {_fmt(a.precision)}"
                f" / {_fmt(a.lenient_precision)}, recall {_fmt(a.recall)}"
            )
    print(
        "\nscreening alerts per enterprise on the week (example subscriptions): previous -> current"
    )
    for enterprise, (before, after, severities) in per_enterprise.items():
        by = ", ".join(f"{k} {v}" for k, v in sorted(severities.items()))
        print(f"  {enterprise:22} {before:5} -> {after}" + (f" ({by})" if by else ""))
    print("\ncalibration per profile (expected false alerts per week at the reference volume)")
    for c in calibration:
        print(
            f"  {c['subscription']:21} threshold {c['threshold_own_ipc']:.3f} at "
            f"p{c['percentile_own_ipc']:.3f} own IPC (expected {c['expected_weekly_own_ipc']}/week), "
            f"{c['threshold_in_field']:.3f} at "
            f"p{c['percentile_in_field']:.3f} in field (expected {c['expected_weekly_in_field']}/week), "
            f"{c['threshold_outside_field']:.3f} at p{c['percentile_outside_field']:.4f} outside "
            f"(expected {c['expected_weekly_outside_field']}/week)"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

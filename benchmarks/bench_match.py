"""Matching throughput: indexed matcher vs the naive loop, same rules and subscriptions, same run.

Synthetic but realistic input: documents are real CNIPA gazette titles, IPC symbols, applicants
and addresses (tests/fixtures/rules/gazette_sample.tsv) recombined under fresh numbers, with
legal events on a few percent; 500 rules (the shipped library plus generated IPC, keyword,
applicant, event and sub-field rules) and 10 000 subscriptions (sub-fields, IPC prefixes,
keywords, competitors, own patents; 1% with product texts for similarity screening).

    .venv/bin/python -m benchmarks.bench_match [--docs 100000] [--subs 10000] [--rules 500] [--naive 200]

Prints documents/s for both and their ratio (goal >= 50x; 100k documents in < 60 s), and checks
that the indexed and naive results agree on the naive sample.
"""

from __future__ import annotations

import argparse
import datetime as dt
import random
import time
from pathlib import Path

from rules.docview import EventView, MatchDoc
from rules.engine import CompiledRule, CompiledSubscription, Matcher
from rules.loader import load_rules, packaged_library
from rules.similarity import SimilarityScreen, profiles_for
from rules.spec import RuleSpec, SubscriptionSpec
from rules.storedocs import ipc_tags
from warning.ipc import normalize_ipc_list

SAMPLE = (
    Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "rules" / "gazette_sample.tsv"
)
EVENT_CODES = ["CF01", "TR01", "IW01", "IP01", "EE01", "PE01", "CX01", "TA01"]
FOREIGN = [
    ("杰富意钢铁株式会社", "日本东京都"),
    ("POSCO", "韩国庆尚北道"),
    ("日本制铁株式会社", "日本东京都"),
    ("美卓奥图泰芬兰有限公司", "芬兰赫尔辛基"),
    ("巴斯夫欧洲公司", "德国路德维希港"),
    ("三星电子株式会社", "韩国京畿道"),
    ("西门子股份公司", "德国慕尼黑"),
]


def load_sample(path: Path = SAMPLE) -> list[dict[str, str]]:
    lines = path.read_text(encoding="utf-8").splitlines()
    header = lines[0].split("\t")
    return [dict(zip(header, line.split("\t"), strict=False)) for line in lines[1:] if line.strip()]


def _fragments(title: str, rng: random.Random) -> str:
    """A 2-3 character piece of a real title: a realistic Chinese keyword."""
    text = "".join(ch for ch in title if "\u4e00" <= ch <= "\u9fff")
    if len(text) < 3:
        return "钢板"
    size = rng.choice((2, 2, 3))
    start = rng.randrange(0, len(text) - size + 1)
    return text[start : start + size]


def make_docs(sample: list[dict[str, str]], n: int, seed: int = 1) -> list[MatchDoc]:
    rng = random.Random(seed)
    today = dt.date(2026, 11, 24)
    docs = []
    for i in range(n):
        row = rng.choice(sample)
        other = rng.choice(sample)
        applicant, address = (row["applicant"], row["address"])
        if rng.random() < 0.08:
            applicant, address = rng.choice(FOREIGN)
        ipc = normalize_ipc_list(row["ipc"])
        kind = row["number"][-1] if row["number"][-1:].isalpha() else "A"
        events = []
        if rng.random() < 0.04:
            events.append(
                EventView(
                    code=rng.choice(EVENT_CODES), date=today - dt.timedelta(days=rng.randrange(30))
                )
            )
        sectors, subfields = ipc_tags(ipc)
        docs.append(
            MatchDoc(
                number=f"CN{300000000 + i}{kind}",
                office="CN",
                kind=kind,
                title=row["title"],
                abstract=other["title"],
                applicants=[applicant],
                addresses=[address],
                ipc=ipc,
                publication_date=today - dt.timedelta(days=rng.randrange(60)),
                sectors=sectors,
                subfields=subfields,
                events=events,
            )
        )
    return docs


def make_rules(sample: list[dict[str, str]], n: int, seed: int = 2) -> list[CompiledRule]:
    rng = random.Random(seed)
    library, _ = load_rules([packaged_library()])
    specs = [r.spec for r in library if r.spec.kind == "document"]
    from warning.taxonomy import load_taxonomy

    subfields = [sf.qualified for sf in load_taxonomy().subfields]
    sectors = list(load_taxonomy().sector_ids)
    while len(specs) < n:
        row = rng.choice(sample)
        ipc = normalize_ipc_list(row["ipc"]) or ["C21D8/12"]
        choice = rng.randrange(5)
        when: dict[str, object]
        if choice == 0:
            when = {"ipc": [ipc[0]], "kinds": rng.sample(["A", "B", "U"], 2)}
        elif choice == 1:
            a, b, c = (_fragments(rng.choice(sample)["title"], rng) for _ in range(3))
            when = {"keywords": f"{_fragments(row['title'], rng)} AND ({a} OR {b}) AND NOT {c}"}
        elif choice == 2:
            when = {"applicants": [rng.choice(sample)["applicant"] for _ in range(3)]}
        elif choice == 3:
            when = {"legal_events": rng.sample(EVENT_CODES, 2), "sectors": rng.sample(sectors, 2)}
        else:
            when = {"subfields": rng.sample(subfields, 2), "applicant_foreign": True}
        specs.append(
            RuleSpec.model_validate(
                {
                    "id": f"gen-{len(specs)}",
                    "version": 1,
                    "title": "generated",
                    "severity": "low",
                    "status": "active",
                    "when": when,
                }
            )
        )
    return [CompiledRule.build(s, pk=i + 1) for i, s in enumerate(specs[:n])]


def make_subscriptions(
    sample: list[dict[str, str]], n: int, seed: int = 3
) -> list[CompiledSubscription]:
    rng = random.Random(seed)
    from warning.taxonomy import load_taxonomy

    subfields = [sf.qualified for sf in load_taxonomy().subfields]
    subs = []
    for i in range(n):
        scope: dict[str, object] = {}
        for _ in range(rng.randint(1, 3)):
            # most enterprises watch IPC groups, keywords, competitors and their own patents;
            # a few watch a whole sub-field (the broadest scope, so the biggest alert volume)
            kind = rng.choices(range(5), weights=(1, 6, 6, 6, 4))[0]
            if kind == 0:
                scope["subfields"] = rng.sample(subfields, 1)
                scope["min_confidence"] = 0.5
            elif kind == 1:
                scope["ipc"] = [
                    p.split("/")[0] + "/" for p in normalize_ipc_list(rng.choice(sample)["ipc"])[:1]
                ]
            elif kind == 2:
                scope["keywords"] = [
                    _fragments(rng.choice(sample)["title"], rng)
                    + _fragments(rng.choice(sample)["title"], rng)[:1]
                    for _ in range(3)
                ]
            elif kind == 3:
                scope["competitors"] = [rng.choice(sample)["applicant"] for _ in range(2)]
            else:
                scope["own_patents"] = [rng.choice(sample)["number"] for _ in range(3)]
        if rng.random() < 0.01:
            scope["products"] = [rng.choice(sample)["title"] + "，" + rng.choice(sample)["title"]]
        spec = SubscriptionSpec.model_validate({"name": "default", "scope": scope})
        subs.append(
            CompiledSubscription.build(f"ent-{i}", f"企业{i}", [f"ip{i}@example.cn"], spec, i + 1)
        )
    return subs


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", type=int, default=100_000)
    parser.add_argument("--subs", type=int, default=10_000)
    parser.add_argument("--rules", type=int, default=500)
    parser.add_argument("--naive", type=int, default=200, help="documents in the naive-loop sample")
    args = parser.parse_args(argv if argv is not None else [])
    sample = load_sample()
    t0 = time.perf_counter()
    docs = make_docs(sample, args.docs)
    rules = make_rules(sample, args.rules)
    subs = make_subscriptions(sample, args.subs)
    profiles = profiles_for(subs, {})
    screen = SimilarityScreen(profiles)
    print(
        f"input: {len(docs)} documents, {len(rules)} rules, {len(subs)} subscriptions "
        f"({len(profiles)} product profiles); generated in {time.perf_counter() - t0:.1f} s"
    )
    t0 = time.perf_counter()
    matcher = Matcher(rules, subs, screen=screen)
    print(
        f"index build: {time.perf_counter() - t0:.2f} s; screening: {len(screen.profiles)} "
        "profiles, thresholds calibrated per profile"
    )

    t0 = time.perf_counter()
    alerts = 0
    for start in range(0, len(docs), 1000):
        alerts += len(matcher.match_batch(docs[start : start + 1000]))
    indexed_s = time.perf_counter() - t0
    indexed_rate = len(docs) / indexed_s

    naive_docs = docs[: args.naive]
    t0 = time.perf_counter()
    naive = matcher.match_batch(naive_docs, naive=True)
    naive_s = time.perf_counter() - t0
    naive_rate = len(naive_docs) / naive_s
    indexed = matcher.match_batch(naive_docs)
    same = sorted(m.dedupe_key for m in naive) == sorted(m.dedupe_key for m in indexed)

    print(
        f"indexed: {len(docs)} documents in {indexed_s:.1f} s = {indexed_rate:,.0f} docs/s "
        f"({alerts:,} would-be alerts, {alerts / len(docs):.1f} per document)"
    )
    print(f"naive:   {len(naive_docs)} documents in {naive_s:.1f} s = {naive_rate:,.1f} docs/s")
    print(
        f"ratio:   {indexed_rate / naive_rate:,.0f}x (goal >= 50x); 100k documents would take "
        f"{100_000 / indexed_rate:.1f} s indexed (goal < 60 s), {100_000 / naive_rate / 3600:.1f} h naive"
    )
    print(f"results identical on the naive sample: {same} ({len(naive)} alerts)")
    if not same:
        raise SystemExit("indexed and naive matching disagree")


if __name__ == "__main__":
    import sys

    main(sys.argv[1:])

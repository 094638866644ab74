"""Parse throughput of USPTO and CNIPA XML against a bare ``lxml.etree.fromstring`` pass.

The corpora are the real documents in ``tests/fixtures/crawl`` repeated: a USPTO weekly file
(documents concatenated, each with its own declaration) and a stack of CNIPA XML files in both
schemas. The baseline builds the trees of exactly the same documents and does nothing else; the
parser splits the weekly file, builds the tree and extracts a validated DocumentRecord per
document. Goal: at least 0.5 of bare lxml. Run: ``.venv/bin/python -m benchmarks.bench_parse``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from lxml import etree

from crawlers.parsers import BadRecord
from crawlers.parsers.cnipa_xml import parse_cnipa_xml
from crawlers.parsers.uspto import parse_uspto, split_documents

FIXTURES = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "crawl"
USPTO = ("US06859910.xml", "US07272630B2.xml", "US20050004437A1.xml", "us_app_v44_example3.xml")
CNIPA = ("cn_old1.xml", "cn_old3.xml", "cn_new2.xml")
TARGET_MB = 24
ROUNDS = 3
GOAL = 0.5


def _uspto_week() -> bytes:
    one_round = b"".join((FIXTURES / n).read_bytes().rstrip(b"\r\n") + b"\n" for n in USPTO)
    return one_round * max(1, TARGET_MB * 2**20 // len(one_round))


def _cnipa_files() -> list[bytes]:
    docs = [(FIXTURES / n).read_bytes() for n in CNIPA]
    total = sum(len(d) for d in docs)
    return docs * max(1, (TARGET_MB // 2) * 2**20 // total)


def _best(fn: Callable[[], int]) -> tuple[float, int]:
    best, count = float("inf"), 0
    for _ in range(ROUNDS):
        t0 = time.perf_counter()
        count = fn()
        best = min(best, time.perf_counter() - t0)
    return best, count


def _report(name: str, size: int, bare: tuple[float, int], ours: tuple[float, int]) -> float:
    mb = size / 2**20
    (t_bare, n_bare), (t_ours, n_ours) = bare, ours
    ratio = t_bare / t_ours
    print(f"{name}: {mb:.1f} MB, {n_ours} documents")
    print(f"  bare lxml.etree.fromstring : {mb / t_bare:8.1f} MB/s {n_bare / t_bare:9.0f} docs/s")
    print(f"  ipwarn parser (to records) : {mb / t_ours:8.1f} MB/s {n_ours / t_ours:9.0f} docs/s")
    print(
        f"  ratio parser/bare          : {ratio:8.2f}  (goal >= {GOAL}) {'OK' if ratio >= GOAL else 'BELOW GOAL'}"
    )
    return ratio


def bench_uspto() -> float:
    week = _uspto_week()
    chunks = [chunk for _, chunk in split_documents(week)]

    def bare() -> int:
        for chunk in chunks:
            etree.fromstring(chunk)
        return len(chunks)

    def ours() -> int:
        count = 0
        for outcome in parse_uspto(week, "ipg_bench.xml"):
            if isinstance(outcome, BadRecord):
                raise RuntimeError(outcome.reason)
            count += 1
        return count

    return _report("USPTO weekly file", len(week), _best(bare), _best(ours))


def bench_cnipa() -> float:
    files = _cnipa_files()

    def bare() -> int:
        for data in files:
            etree.fromstring(data)
        return len(files)

    def ours() -> int:
        count = 0
        for index, data in enumerate(files):
            for outcome in parse_cnipa_xml(data, f"cn_{index}.xml"):
                if isinstance(outcome, BadRecord):
                    raise RuntimeError(outcome.reason)
                count += 1
        return count

    return _report(
        "CNIPA XML (old + new schema)", sum(len(f) for f in files), _best(bare), _best(ours)
    )


def main() -> None:
    bench_uspto()
    bench_cnipa()


if __name__ == "__main__":
    main()

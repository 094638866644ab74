"""Search index build, search latency and screening latency.

Run: ``.venv/bin/python -m benchmarks.bench_search [--docs N] [--pg-docs N] [--queries 200]``
(``--docs 0`` or ``--pg-docs 0`` skips that backend; ``--skip-stages`` the index build).

* **Index build**: the 64,466 shipped gazette records (``models/data/gazette_2019.jsonl.gz``,
  the real CNIPA 2019 records with IPC; designs dropped, deduplicated) stored in a SQLite
  store; the index stage (:func:`warning.search.index.index_pending`) against the classify stage
  (``run_classify_stage``) on the same documents, in the same run.
* **Search latency**: a store of ``--docs`` documents made from those records by re-numbering
  and re-dating (copy c gets numbers CN8{c:02d}{i:07d}, publication dates moved back 61 days per
  copy). Index rows of a copy are the stage's rows of its original (same text, same tokens):
  building them again with jieba would only cost time. 200 varied queries (single words, AND,
  OR, phrases, NOT, with and without filters) made from random titles; p50/p95 of the whole
  service call (ranking, legal status, hits), SQLite and PostgreSQL.
* **Screening**: 20 product descriptions of ~500 characters (titles of one IPC subclass joined),
  p95 of ``screen()`` on the same stores.

The generated stores are kept in $TMPDIR/ipwarn-bench-search (SQLite) and the PostgreSQL
schema ``bench_search_<N>`` so a re-run skips generation; delete them to rebuild.
"""

from __future__ import annotations

import argparse
import datetime as dt
import random
import statistics
import tempfile
import time
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, func, insert, select, text

from models.data import read_gazette
from warning.config import load_settings
from warning.pipeline import StageContext
from warning.search.cells import cell_of, fts_key, max_tf
from warning.search.index import add_term_counts, index_pending, refresh_stats
from warning.search.screen import screen
from warning.search.service import SearchFilters, search
from warning.search.tokens import TOKENIZER_VERSION
from warning.store import migrate
from warning.store.engine import Store
from warning.store.models import Document, SearchIndexEntry, utcnow

PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
CACHE = Path(tempfile.gettempdir()) / "ipwarn-bench-search"
BASE_DATE = dt.date(2019, 7, 12)
KIND = {"invention_authorized": "B", "invention_published": "A", "utility_new": "U"}


def doc_rows(examples: list[Any], copy: int) -> list[dict[str, Any]]:
    now = utcnow()
    shift = dt.timedelta(days=61 * copy)
    rows = []
    for i, ex in enumerate(examples):
        kind = ex.kind
        number = ex.number if copy == 0 else f"CN8{copy:02d}{i:07d}{kind}"
        published = BASE_DATE - shift
        rows.append(
            {
                "office": "CN",
                "number": number,
                "kind": kind,
                "title": ex.text,
                "abstract": "",
                "claims": "",
                "applicants": [],
                "addresses": [],
                "inventors": [],
                "ipc": list(ex.ipc),
                "publication_date": published,
                "application_date": published - dt.timedelta(days=540 + i % 400),
                "application_number": None,
                "language": "zh",
                "source": "bench",
                "raw_ref": None,
                "content_hash": f"{copy}-{i}",
                "is_stub": False,
                "first_seen_at": now,
                "updated_at": now,
            }
        )
    return rows


class Example:
    def __init__(self, number: str, text: str, ipc: tuple[str, ...], kind: str) -> None:
        self.number, self.text, self.ipc, self.kind = number, text, ipc, kind


def load_examples() -> list[Example]:
    import gzip
    import json

    from models.data import DATA_DIR, GAZETTE

    with gzip.open(DATA_DIR / GAZETTE, "rt", encoding="utf-8") as handle:
        rows = [json.loads(line) for line in handle if line.strip()]
    assert len(rows) == len(read_gazette())
    return [
        Example(r["number"], r["title"], tuple(r["ipc"]), KIND.get(r["kind"], "A")) for r in rows
    ]


def insert_chunked(store: Store, table: Any, rows: list[dict[str, Any]], size: int = 5000) -> None:
    for start in range(0, len(rows), size):
        with store.session() as session:
            session.execute(insert(table), rows[start : start + size])


def stage_comparison(examples: list[Example]) -> dict[str, float]:
    from models.stage import run_classify_stage

    folder = Path(tempfile.mkdtemp(prefix="bench-search-"))
    store = Store(f"sqlite:///{folder / 'ipwarn.db'}")
    migrate.upgrade(store.engine)
    insert_chunked(store, Document.__table__, doc_rows(examples, 0))
    settings = load_settings(None, data_dir=folder / "var")
    ctx = StageContext(settings=settings, store=store, options={"classify_limit": 10**7})
    from warning.search.tokens import index_tokens

    index_tokens("预热")  # jieba's dictionaries load once per process, outside the timing
    t0 = time.perf_counter()
    indexed = index_pending(store).indexed
    index_s = time.perf_counter() - t0
    from models.classifier import load_classifier

    load_classifier(settings)  # model load outside the timing too
    t0 = time.perf_counter()
    classified = run_classify_stage(ctx).counts["documents"]
    classify_s = time.perf_counter() - t0
    store.dispose()
    return {
        "documents": indexed,
        "index_rate": indexed / index_s,
        "classify_rate": float(classified) / classify_s,
        "index_s": index_s,
        "classify_s": classify_s,
    }


def count(store: Store) -> int:
    with store.session() as session:
        return int(session.scalar(select(func.count()).select_from(SearchIndexEntry)) or 0)


def build_scaled(store: Store, examples: list[Example], n: int) -> float:
    """Fill ``store`` with ``n`` re-numbered, re-dated copies; seconds spent (0 when cached)."""
    if count(store) == n:
        return 0.0
    t0 = time.perf_counter()
    with store.session() as session:
        session.execute(text("DELETE FROM search_index"))
        session.execute(text("DELETE FROM search_terms"))
        session.execute(text("DELETE FROM documents"))
    insert_chunked(store, Document.__table__, doc_rows(examples, 0))
    index_pending(store)
    with store.session() as session:
        tokens = dict(
            session.execute(select(SearchIndexEntry.document_id, SearchIndexEntry.tokens)).all()
        )
        ids = [r[0] for r in session.execute(select(Document.id).order_by(Document.id))]
    original = [(tokens[i], len(tokens[i].split(" ")) if tokens[i] else 0) for i in ids]
    top_tf = [max_tf(t.split(" ")) if t else 0 for t, _ in original]
    copy, done = 1, len(examples)
    now = utcnow()
    while done < n:
        take = min(len(examples), n - done)
        rows = doc_rows(examples[:take], copy)
        with store.session() as session:
            start = int(session.scalar(select(func.max(Document.id))) or 0)
        insert_chunked(store, Document.__table__, rows)
        with store.session() as session:
            new_ids = [
                r[0]
                for r in session.execute(
                    select(Document.id).where(Document.id > start).order_by(Document.id)
                )
            ]
        entries = [
            {
                "document_id": doc_id,
                "tokens": original[k][0],
                "length": original[k][1],
                "max_tf": top_tf[k],
                "cell": cell_of(original[k][1], top_tf[k]),
                "fts_key": fts_key(
                    cell_of(original[k][1], top_tf[k]),
                    doc_id,
                    kind=rows[k]["kind"],
                    office=rows[k]["office"],
                    published=rows[k]["publication_date"],
                ),
                "content_hash": rows[k]["content_hash"],
                "tokenizer": TOKENIZER_VERSION,
                "indexed_at": now,
            }
            for k, doc_id in enumerate(new_ids)
        ]
        insert_chunked(store, SearchIndexEntry.__table__, entries)
        delta: Counter[str] = Counter()
        for k in range(take):
            delta.update(set(original[k][0].split()))
        with store.session() as session:
            add_term_counts(session, delta)
        if not store.is_sqlite:
            with store.session() as session:
                session.execute(
                    text(
                        "UPDATE search_index SET tsv = to_tsvector('simple', tokens) WHERE document_id > :s"
                    ),
                    {"s": start},
                )
        copy += 1
        done += take
        print(
            f"  {store.dialect}: {done:,} documents ({time.perf_counter() - t0:.0f} s)", flush=True
        )
    with store.session() as session:
        refresh_stats(session)
    if store.is_sqlite:
        with store.session() as session:
            session.execute(text("INSERT INTO search_fts(search_fts) VALUES ('optimize')"))
    else:
        with store.engine.connect() as conn:
            conn.execution_options(isolation_level="AUTOCOMMIT").execute(text("VACUUM ANALYZE"))
    return time.perf_counter() - t0


def make_queries(examples: list[Example], n: int, seed: int = 5) -> list[tuple[str, SearchFilters]]:
    from warning.search.tokens import words

    rng = random.Random(seed)
    out: list[tuple[str, SearchFilters]] = []
    while len(out) < n:
        title = rng.choice(examples).text
        ws = [w for w in words(title) if len(w) >= 2 and w not in ("一种", "方法", "装置")]
        if len(ws) < 3:
            continue
        kind = len(out) % 6
        if kind == 0:
            q = ws[0]
        elif kind == 1:
            q = f"{ws[0]} {ws[1]}"
        elif kind == 2:
            q = " OR ".join(ws[:3])
        elif kind == 3:
            q = f'"{ws[0]}{ws[1]}"'
        elif kind == 4:
            q = f"({ws[0]} OR {ws[1]}) NOT {ws[2]}"
        else:
            q = ws[1]
        filters = SearchFilters()
        if len(out) % 5 == 0:
            filters = SearchFilters(kind=rng.choice("ABU"))
        elif len(out) % 7 == 0:
            filters = SearchFilters(since=BASE_DATE - dt.timedelta(days=365))
        out.append((q, filters))
    return out


def make_descriptions(examples: list[Example], n: int, seed: int = 9) -> list[str]:
    rng = random.Random(seed)
    by_class: dict[str, list[str]] = defaultdict(list)
    for ex in examples:
        if ex.ipc:
            by_class[ex.ipc[0][:4]].append(ex.text)
    classes = [c for c, titles in by_class.items() if len(titles) >= 40]
    out = []
    for _ in range(n):
        titles = by_class[rng.choice(classes)]
        text = ""
        while len(text) < 500:
            text += rng.choice(titles).removeprefix("一种") + "，"
        out.append(text[:500])
    return out


def pct(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[int(q) - 1]


def measure(
    store: Store, queries: list[tuple[str, SearchFilters]], descriptions: list[str]
) -> dict[str, float]:
    today = dt.date(2026, 12, 1)
    for q, f in queries[:10]:  # warm-up: dictionaries, caches
        search(store, q, f, today=today)
    screen(store, descriptions[0], today=today)
    lat = []
    totals = []
    for q, f in queries:
        t0 = time.perf_counter()
        result = search(store, q, f, today=today)
        lat.append((time.perf_counter() - t0) * 1000)
        totals.append(result.total)
    slat = []
    for d in descriptions:
        t0 = time.perf_counter()
        screen(store, d, today=today)
        slat.append((time.perf_counter() - t0) * 1000)
    return {
        "p50": pct(lat, 50),
        "p95": pct(lat, 95),
        "max": max(lat),
        "median_total": statistics.median(totals),
        "screen_p50": pct(slat, 50),
        "screen_p95": pct(slat, 95),
    }


def loadavg() -> str:
    """The machine's 1/5/15-minute load average (other sessions share the cores)."""
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "unknown"


def pg_store(n: int) -> Store:
    schema = f"bench_search_{n}"
    admin = create_engine(PG_URL)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA IF NOT EXISTS "{schema}"'))
    admin.dispose()
    store = Store(f"{PG_URL}?options=-csearch_path%3D{schema}")
    migrate.upgrade(store.engine)
    return store


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument(
        "--docs", type=int, default=1_000_000, help="SQLite store size (0 skips SQLite)"
    )
    parser.add_argument(
        "--pg-docs",
        type=int,
        default=300_000,
        help="PostgreSQL store size (0 skips; building 1M rows there takes ~20 min on 2 vCPUs)",
    )
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--descriptions", type=int, default=20)
    parser.add_argument("--skip-stages", action="store_true")
    args = parser.parse_args(argv if argv is not None else [])
    examples = load_examples()
    if not args.skip_stages:
        st = stage_comparison(examples)
        print(
            f"index build: {st['documents']:,} real gazette records: index stage {st['index_rate']:,.0f} docs/s "
            f"({st['index_s']:.1f} s), classify stage {st['classify_rate']:,.0f} docs/s ({st['classify_s']:.1f} s); "
            f"index/classify time ratio {st['index_s'] / st['classify_s']:.2f} (goal <= 1)",
            flush=True,
        )
    queries = make_queries(examples, args.queries)
    descriptions = make_descriptions(examples, args.descriptions)
    CACHE.mkdir(parents=True, exist_ok=True)
    targets: list[tuple[str, int]] = [("sqlite", args.docs)] if args.docs else []
    pg_n = args.pg_docs
    if pg_n:
        targets.append(("postgresql", pg_n))
    for backend, n in targets:
        store = (
            Store(f"sqlite:///{CACHE / f'search_{n}.db'}") if backend == "sqlite" else pg_store(n)
        )
        if backend == "sqlite":
            migrate.upgrade(store.engine)
        built = build_scaled(store, examples, n)
        m = measure(store, queries, descriptions)
        print(
            f"{backend}, {n:,} documents{f' (built in {built:.0f} s)' if built else ' (cached)'}: "
            f"search p50 {m['p50']:.1f} ms, p95 {m['p95']:.1f} ms, max {m['max']:.0f} ms over {len(queries)} queries "
            f"(median {m['median_total']:,.0f} hits; goal p95 < 100 ms); "
            f"screening 500 chars p50 {m['screen_p50']:.0f} ms, p95 {m['screen_p95']:.0f} ms (goal < 1000 ms); "
            f"load average {loadavg()}",
            flush=True,
        )
        store.dispose()


if __name__ == "__main__":
    import sys

    main(sys.argv[1:])

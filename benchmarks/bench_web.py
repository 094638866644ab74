"""Console latency with 100k alerts: the inbox page and ``GET /api/v1/alerts`` vs bare SQL.

For SQLite and (when it answers) PostgreSQL: 100k documents and 100k alerts over 4 enterprises,
then REQUESTS requests of the first inbox page of one enterprise (50 rows, newest first, with
the total), through the whole app in-process (ASGI, session or Bearer auth, template or JSON),
and, as the baseline measured in the same run, the same page as one bare SQL query plus its
count on a raw connection. Prints p50/p95 in ms and the p95 ratio against the baseline.

Run: ``.venv/bin/python -m benchmarks bench_web`` (``IPWARN_BENCH_ALERTS`` to change 100000).
"""

from __future__ import annotations

import datetime as dt
import os
import statistics
import tempfile
import time
import uuid
from pathlib import Path

from sqlalchemy import create_engine, insert, text

from tests.web_support import PASSWORD, api_token, make_web
from warning.config import load_settings
from warning.store import migrate
from warning.store.engine import Store
from warning.store.models import Alert, Document, Enterprise, Rule, Subscription

ALERTS = int(os.environ.get("IPWARN_BENCH_ALERTS", "100000"))
REQUESTS = 100
PG_URL = os.environ.get("IPWARN_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
ENTERPRISES = ("ent-0", "ent-1", "ent-2", "ent-3")
BARE = text(
    "SELECT a.id, a.rule_id, a.rule_version, a.severity, a.sector, a.status, a.enterprise_id,"
    " a.created_at, a.explanation, d.number, d.title FROM alerts a"
    " LEFT JOIN documents d ON d.id = a.document_id"
    " WHERE a.enterprise_id = :e AND a.status <> 'test'"
    " ORDER BY a.created_at DESC, a.id DESC LIMIT 50"
)
BARE_COUNT = text("SELECT count(*) FROM alerts WHERE enterprise_id = :e AND status <> 'test'")


def seed(store: Store) -> None:
    now = dt.datetime(2026, 11, 30, tzinfo=dt.UTC)
    with store.session() as session:
        for e in ENTERPRISES:
            session.add(Enterprise(id=e, name=f"企业{e}", recipients=[f"ip@{e}.example.cn"]))
        session.flush()
        for e in ENTERPRISES:
            session.add(Subscription(enterprise_id=e, name="default"))
        rule = Rule(
            rule_id="bench",
            version=1,
            title="基准规则",
            severity="medium",
            status="active",
            definition={},
            checksum="x",
        )
        session.add(rule)
        session.flush()
        rule_pk = rule.id
    chunk = 5000
    for start in range(0, ALERTS, chunk):
        n = range(start, min(start + chunk, ALERTS))
        with store.session() as session:
            session.execute(
                insert(Document),
                [
                    {
                        "office": "CN",
                        "number": f"CN{200000000 + i}A",
                        "kind": "A",
                        "title": f"一种取向硅钢的制备方法 {i}",
                        "applicants": ["宝山钢铁股份有限公司"],
                        "ipc": ["C21D8/12"],
                        "content_hash": f"h{i}",
                        "source": "bench",
                        "first_seen_at": now,
                        "updated_at": now,
                        "abstract": "",
                        "claims": "",
                        "addresses": [],
                        "inventors": [],
                        "language": "zh",
                        "is_stub": False,
                    }
                    for i in n
                ],
            )
            first_id = session.execute(
                text("SELECT min(id) FROM documents WHERE number = :n"),
                {"n": f"CN{200000000 + start}A"},
            ).scalar_one()
            session.execute(
                insert(Alert),
                [
                    {
                        "dedupe_key": f"bench:{i}",
                        "rule_pk": rule_pk,
                        "rule_id": "bench",
                        "rule_version": 1,
                        "enterprise_id": ENTERPRISES[i % 4],
                        "document_id": first_id + (i - start),
                        "severity": ("critical", "high", "medium", "low")[i % 4],
                        "sector": "steel",
                        "status": "sent",
                        "explanation": {"rule_title": "基准规则", "terms": ["取向硅钢"]},
                        "created_at": now - dt.timedelta(minutes=i),
                    }
                    for i in n
                ],
            )


def percentiles(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    return statistics.median(ordered) * 1000, ordered[int(0.95 * (len(ordered) - 1))] * 1000


def timed(fn, count: int = REQUESTS) -> tuple[float, float]:
    fn()  # warm caches and the connection pool
    samples = []
    for _ in range(count):
        t0 = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - t0)
    return percentiles(samples)


def run(name: str, store: Store, data_dir: Path) -> None:
    t0 = time.perf_counter()
    seed(store)
    print(f"{name}: seeded {ALERTS} alerts in {time.perf_counter() - t0:.1f} s", flush=True)
    settings = load_settings(None, data_dir=data_dir)
    web = make_web(store, settings)
    web.user("ip@ent-0.example.cn", "enterprise", "ent-0")
    client = web.login("ip@ent-0.example.cn", PASSWORD)
    token = {"Authorization": f"Bearer {api_token(web, 'ip@ent-0.example.cn')}"}

    def page() -> None:
        assert client.get("/alerts").status_code == 200

    def api() -> None:
        assert client.get("/api/v1/alerts", headers=token).status_code == 200

    def bare() -> None:
        with store.engine.connect() as conn:
            conn.execute(BARE, {"e": "ent-0"}).all()
            conn.execute(BARE_COUNT, {"e": "ent-0"}).scalar_one()

    base50, base95 = timed(bare)
    print(f"{name}: bare SQL page+count   p50 {base50:7.1f} ms  p95 {base95:7.1f} ms")
    for label, fn in (("inbox page /alerts", page), ("GET /api/v1/alerts", api)):
        p50, p95 = timed(fn)
        print(
            f"{name}: {label:<22} p50 {p50:7.1f} ms  p95 {p95:7.1f} ms  p95 ratio {p95 / base95:5.2f}",
            flush=True,
        )


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        store = Store(f"sqlite:///{tmp}/bench.db")
        migrate.upgrade(store.engine)
        run("sqlite", store, Path(tmp) / "var")
        store.dispose()
        schema = f"bench_{uuid.uuid4().hex[:10]}"
        admin = create_engine(PG_URL)
        try:
            with admin.begin() as conn:
                conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        except Exception as exc:
            print(f"postgresql: skipped ({type(exc).__name__}: {exc})".splitlines()[0])
            return
        try:
            pg = Store(f"{PG_URL}?options=-csearch_path%3D{schema}")
            migrate.upgrade(pg.engine)
            run("postgresql", pg, Path(tmp) / "var-pg")
            pg.dispose()
        finally:
            with admin.begin() as conn:
                conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
            admin.dispose()


if __name__ == "__main__":
    main()

"""Digest build time on a busy store: 13 weeks x N documents, events and alerts (SQLite).

Prints the time of each build phase (read, indicators, charts, HTML, PDF) and, as the baseline
measured in the same run, a bare ``SELECT`` of the same window's document rows: the ratio says
how much the digest costs beyond just reading its documents once.

Run: ``.venv/bin/python -m benchmarks.bench_digest [DOCS_PER_WEEK]`` (default 2000).
"""

from __future__ import annotations

import datetime as dt
import random
import sys
import tempfile
import time
from pathlib import Path

from sqlalchemy import insert, select

from warning.config import load_settings
from warning.digest.charts import render_charts
from warning.digest.indicators import compute_content
from warning.digest.inputs import load_inputs
from warning.digest.render import render_html, render_pdf
from warning.digest.service import build_digest
from warning.digest.thresholds import load_thresholds
from warning.digest.weeks import IsoWeek
from warning.store.engine import Store
from warning.store.models import (
    Alert,
    Applicant,
    Base,
    Document,
    DocumentApplicant,
    DocumentTag,
    LegalEvent,
    Rule,
)

WEEK = IsoWeek.parse("2026-W47")
SECTORS = ("steel", "equipment", "chemicals", "minerals", "optoelectronics")
PLACES = (
    "辽宁省鞍山市",
    "辽宁省沈阳市",
    "上海市",
    "江苏省苏州市",
    "日本东京都",
    "韩国首尔",
    "美国加州",
)


def seed(store: Store, per_week: int, rng: random.Random) -> int:
    applicants = [
        {
            "normalized": f"app{i}",
            "display_name": f"申请人{i}有限公司",
            "country": None,
            "province": None,
            "city": None,
        }
        for i in range(max(50, per_week // 4))
    ]
    for row in applicants:
        place = rng.choice(PLACES)
        row["country"] = (
            "JP"
            if "日本" in place
            else "KR"
            if "韩国" in place
            else ("US" if "美国" in place else "CN")
        )
        row["province"] = "辽宁" if place.startswith("辽宁") else None
        row["city"] = place[3:5] if place.startswith("辽宁") else None
    docs, links, tags, events, alerts = [], [], [], [], []
    now = dt.datetime(2026, 11, 23, tzinfo=dt.UTC)
    doc_id = 0
    for back in range(12, -1, -1):
        monday = WEEK.shift(-back).monday
        for _ in range(per_week):
            doc_id += 1
            docs.append(
                {
                    "id": doc_id,
                    "office": "CN",
                    "number": f"CN{doc_id:09d}A",
                    "kind": "A",
                    "title": f"一种钢材的制备方法{doc_id}",
                    "ipc": ["C21D8/12"],
                    "applicants": [],
                    "addresses": [],
                    "publication_date": monday + dt.timedelta(days=rng.randrange(7)),
                    "content_hash": f"{doc_id:064d}",
                    "is_stub": False,
                    "first_seen_at": now,
                    "updated_at": now,
                }
            )
            for pos, app in enumerate(rng.sample(range(len(applicants)), rng.choice((1, 1, 2)))):
                links.append(
                    {
                        "document_id": doc_id,
                        "position": pos,
                        "applicant_id": app + 1,
                        "address": None,
                    }
                )
            tags.append(
                {
                    "document_id": doc_id,
                    "model_version": "v1",
                    "sector": rng.choice(SECTORS),
                    "subfield": "",
                    "confidence": 0.9,
                    "assigned": True,
                    "created_at": now,
                }
            )
    categories = ("CF01", "MK4A", "IW01", "TR01")
    for n in range(per_week // 10):
        events.append(
            {
                "document_id": rng.randrange(1, doc_id),
                "code": categories[n % 4],
                "category": None,
                "event_date": WEEK.monday + dt.timedelta(days=n % 7),
                "description": "",
                "parties": {"from": ["申请人1有限公司"], "to": ["x"]},
                "source": "bench",
                "created_at": now,
            }
        )
    for n in range(per_week // 20):
        alerts.append(
            {
                "dedupe_key": f"b{n}",
                "rule_pk": 1,
                "rule_id": "r",
                "rule_version": 1,
                "document_id": rng.randrange(1, doc_id),
                "severity": ("critical", "high", "medium", "low")[n % 4],
                "sector": rng.choice(SECTORS),
                "status": "sent",
                "explanation": {"why": "bench"},
                "created_at": now - dt.timedelta(hours=1 + n % 100),
            }
        )
    with store.session() as session:
        session.execute(insert(Applicant), [{"id": i + 1, **a} for i, a in enumerate(applicants)])
        session.execute(insert(Document), docs)
        session.execute(insert(DocumentApplicant), links)
        session.execute(insert(DocumentTag), tags)
        session.execute(insert(LegalEvent), events)
        session.add(
            Rule(
                rule_id="r",
                version=1,
                title="基准规则",
                severity="high",
                status="active",
                definition={},
                checksum="x",
            )
        )
        session.flush()
        session.execute(insert(Alert), alerts)
    return doc_id


def main() -> None:
    per_week = int(sys.argv[1]) if len(sys.argv) > 1 and sys.argv[1].isdigit() else 2000
    rng = random.Random(47)
    with tempfile.TemporaryDirectory() as tmp:
        settings = load_settings(None, data_dir=Path(tmp))
        store = Store(settings.effective_database_url)
        Base.metadata.create_all(store.engine)
        t0 = time.perf_counter()
        total = seed(store, per_week, rng)
        print(
            f"seeded {total} documents ({per_week}/week x 13) in {time.perf_counter() - t0:.1f} s"
        )

        t0 = time.perf_counter()
        with store.session() as session:
            rows = session.execute(
                select(Document.id, Document.number, Document.publication_date, Document.ipc).where(
                    Document.publication_date.between(WEEK.shift(-12).monday, WEEK.sunday)
                )
            ).all()
        baseline = time.perf_counter() - t0
        print(f"baseline: bare SELECT of {len(rows)} window documents   {baseline * 1000:8.0f} ms")

        thresholds = load_thresholds()
        phases: dict[str, float] = {}
        t0 = time.perf_counter()
        with store.session() as session:
            inputs = load_inputs(
                session,
                WEEK,
                tz=settings.tz,
                local_regions=settings.local_regions,
                thresholds_fingerprint=thresholds.fingerprint,
            )
        phases["read inputs"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        input_hash = inputs.input_hash
        phases["input hash"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        content = compute_content(inputs, thresholds)
        phases["indicators"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        charts = render_charts(content)
        phases["charts (3 PNG)"] = time.perf_counter() - t0
        now = dt.datetime.now(dt.UTC)
        t0 = time.perf_counter()
        html = render_html(content, charts, now, settings.tz, input_hash=input_hash)
        phases["HTML"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        render_pdf(content, charts, now, settings.tz, Path(tmp) / "bench.pdf")
        phases["PDF"] = time.perf_counter() - t0
        for name, seconds in phases.items():
            print(f"  {name:<16} {seconds * 1000:8.0f} ms   {seconds / baseline:6.1f}x baseline")
        t0 = time.perf_counter()
        built = build_digest(store, settings, WEEK)
        full = time.perf_counter() - t0
        print(
            f"full build_digest (incl. store write) {full * 1000:8.0f} ms   "
            f"{full / baseline:6.1f}x baseline; HTML {len(html) / 1024:.0f} KiB, "
            f"PDF {built.pdf_path.stat().st_size / 1024:.0f} KiB"
        )
        store.dispose()


if __name__ == "__main__":
    main()

"""Steady-state cost of the match stage: a run with nothing new against a full run, same store.

Documents are real CNIPA gazette records (tests/fixtures/rules/gazette_sample.tsv: titles, IPC,
applicants, addresses) re-numbered to the requested count, stored in a SQLite file, tagged with
the active classifier version as their IPC implies (the classifier's own cost is not measured
here), and matched against the shipped rules and the example subscriptions. Measured in one run:

* the full match of every document (the baseline);
* a match with nothing new (the old stage re-checked every document changed within an hour of
  the newest one, so right after a bulk import this cost about as much as the full run);
* a match after 1% of the documents changed (re-ingested with new text and re-tagged).

    .venv/bin/python -m benchmarks.bench_match_idle [--docs 20000]
"""

from __future__ import annotations

import argparse
import datetime as dt
import tempfile
import time
from pathlib import Path
from typing import Any

from sqlalchemy import select

from benchmarks.bench_match import load_sample
from models.registry import active_version
from rules.examples import example_subscriptions_path
from rules.stage import run_match_stage
from rules.storedocs import ipc_tags
from rules.subscriptions import import_subscriptions_file
from warning.config import load_settings
from warning.ipc import normalize_ipc_list
from warning.pipeline import StageContext
from warning.records import DocumentRecord
from warning.store import migrate
from warning.store.engine import Store
from warning.store.ingest import ingest_document
from warning.store.models import Document, DocumentTag, utcnow
from warning.store.upsert import dialect_insert


def records(n: int, *, edition: int = 0) -> list[DocumentRecord]:
    sample = load_sample()
    out = []
    for i in range(n):
        row = sample[i % len(sample)]
        suffix = f" (第{edition}版)" if edition else ""
        out.append(
            DocumentRecord(
                office="CN",
                number=f"CN9{i:08d}A",
                kind="A",
                title=row["title"] + suffix,
                applicants=[row["applicant"]],
                addresses=[row["address"]],
                ipc=normalize_ipc_list(row["ipc"]),
                publication_date=dt.date(2019, 7, 12),
            )
        )
    return out


def tag_untagged(store: Store) -> int:
    """IPC-implied tags of the active version for every document without them."""
    with store.session() as session:
        version = active_version(session)
        tagged = select(DocumentTag.document_id).where(DocumentTag.model_version == version)
        docs = session.execute(
            select(Document.id, Document.ipc).where(
                Document.is_stub.is_(False), Document.id.not_in(tagged)
            )
        ).all()
        now = utcnow()
        rows: list[dict[str, Any]] = []
        for doc_id, ipc in docs:
            sectors, subfields = ipc_tags(ipc or [])
            base = {"document_id": doc_id, "model_version": version, "created_at": now}
            rows.append(
                base
                | {"sector": "other", "subfield": "", "confidence": 0.5, "assigned": not sectors}
            )
            rows += [
                base | {"sector": s, "subfield": "", "confidence": 1.0, "assigned": True}
                for s in sectors
            ]
            rows += [
                base
                | {
                    "sector": q.partition(".")[0],
                    "subfield": q.partition(".")[2],
                    "confidence": 1.0,
                    "assigned": True,
                }
                for q in subfields
            ]
        for start in range(0, len(rows), 5000):
            session.execute(
                dialect_insert(session, DocumentTag.__table__), rows[start : start + 5000]
            )
    return len(docs)


def timed(ctx: StageContext) -> tuple[float, dict[str, int | float]]:
    t0 = time.perf_counter()
    result = run_match_stage(ctx)
    return time.perf_counter() - t0, result.counts


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", type=int, default=20_000)
    args, _ = parser.parse_known_args(argv)  # `python -m benchmarks NAME` passes NAME on
    with tempfile.TemporaryDirectory() as tmp:
        settings = load_settings(None, data_dir=Path(tmp))
        store = Store(settings.effective_database_url)
        migrate.upgrade(store.engine)
        with store.session() as session:
            import_subscriptions_file(session, example_subscriptions_path())
            for record in records(args.docs):
                ingest_document(session, record)
        tag_untagged(store)
        ctx = StageContext(settings=settings, store=store, now=utcnow())
        full, counts = timed(ctx)
        idle, idle_counts = timed(ctx)
        changed = args.docs // 100
        with store.session() as session:
            for record in records(changed, edition=2):
                ingest_document(session, record)
        tag_untagged(store)
        some, some_counts = timed(ctx)
        store.dispose()
    print(f"documents: {args.docs}; alerts of the full run: {counts['alerts']}")
    print(f"full match:       {full:7.2f} s  documents={counts['documents']}")
    print(
        f"nothing new:      {idle:7.2f} s  documents={idle_counts['documents']} "
        f"rechecked={idle_counts['rechecked']}  ratio to full {idle / full:.3f}"
    )
    print(
        f"1% changed:       {some:7.2f} s  documents={some_counts['documents']} "
        f"rechecked={some_counts['rechecked']}  ratio to full {some / full:.3f}"
    )


if __name__ == "__main__":
    main()

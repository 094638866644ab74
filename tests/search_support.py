"""Search-test data: real CNIPA gazette rows (tests/fixtures/rules/gazette_sample.tsv, see its
ORIGIN.md) ingested as documents. The sample has no filing dates: each document's application
date is derived from its publication date (two years before, one day earlier per row), and a
few rows get legal events with real CN codes (CF01, TR01, EE01, IW01, MK4A) so that every status
occurs."""

from __future__ import annotations

import csv
import datetime as dt
from pathlib import Path

from warning.records import DocumentRecord, LegalEventRecord
from warning.store.engine import Store
from warning.store.ingest import ingest_document

SAMPLE = Path(__file__).parent / "fixtures" / "rules" / "gazette_sample.tsv"
PUBLISHED = dt.date(2019, 7, 12)

#: row index -> events (real CN legal-event codes, derived dates)
EVENTS: dict[int, list[tuple[str, dt.date]]] = {
    1: [("CF01", dt.date(2021, 3, 5))],
    3: [("TR01", dt.date(2022, 6, 1))],
    5: [("EE01", dt.date(2020, 1, 10)), ("TR01", dt.date(2021, 2, 2))],
    7: [("IW01", dt.date(2020, 9, 9))],
    9: [("MK4A", dt.date(2023, 4, 4))],
}


def gazette_rows(n: int | None = None) -> list[dict[str, str]]:
    with SAMPLE.open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle, delimiter="\t"))
    return rows[:n] if n else rows


def record(i: int, row: dict[str, str]) -> DocumentRecord:
    number = row["number"]
    return DocumentRecord(
        office="CN",
        number=number,
        kind=number[-1],
        title=row["title"],
        applicants=[row["applicant"]],
        addresses=[row["address"]],
        ipc=[x for x in row["ipc"].split(";") if x.strip()],
        publication_date=PUBLISHED,
        application_date=PUBLISHED - dt.timedelta(days=730 + i % 300),
        legal_events=[LegalEventRecord(code=c, date=d) for c, d in EVENTS.get(i, [])],
    )


def ingest_gazette(store: Store, n: int | None = 600) -> list[DocumentRecord]:
    records = [record(i, row) for i, row in enumerate(gazette_rows(n))]
    with store.session() as session:
        for rec in records:
            ingest_document(session, rec)
    return records

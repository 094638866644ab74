"""Real gazette records re-dated into weekly bulletins with a known structure, for forecast tests.

The rows are the 3,000 real records of ``tests/fixtures/rules/gazette_sample.tsv`` (CNIPA
2019-07-12 gazette, see its ORIGIN.md: number, title, IPC, applicant, address). A schedule says
how many of a sector's records to publish in each week; records are taken in file order and
re-dated to the Tuesday of their week. When a schedule needs more records than the sample holds
for the sector, records are reused with a re-numbered publication number (suffix ``9`` digits),
so every stored document is a real record's bibliographic data with a new date and number.
Application dates are set 18 months before publication (the CN publication delay for A; the
real rows' application dates were damaged by Excel and are not in the sample).
"""

from __future__ import annotations

import csv
import datetime as dt
from functools import cache
from pathlib import Path

from crawlers.parsers.common import split_multi
from warning.ipc import normalize_ipc_list
from warning.records import DocumentRecord, split_number
from warning.store.engine import Store
from warning.store.ingest import ingest_document
from warning.taxonomy import load_taxonomy

SAMPLE = Path(__file__).parent / "fixtures" / "rules" / "gazette_sample.tsv"


@cache
def sample_rows() -> tuple[dict[str, str], ...]:
    with SAMPLE.open(encoding="utf-8") as handle:
        return tuple(csv.DictReader(handle, delimiter="\t"))


def sector_rows(sector: str, *, foreign: bool | None = None) -> list[dict[str, str]]:
    from warning.applicants import is_foreign

    taxonomy = load_taxonomy()
    rows = [
        r for r in sample_rows() if sector in taxonomy.sectors_for_ipc(normalize_ipc_list(r["ipc"]))
    ]
    if foreign is not None:
        rows = [r for r in rows if is_foreign(r["address"], r["applicant"]) == foreign]
    return rows


def record_of(row: dict[str, str], day: dt.date, copy: int = 0) -> DocumentRecord:
    office, serial, kind = split_number(row["number"])
    number = f"{office}{serial}{'9' * copy}{kind}" if copy else row["number"]
    return DocumentRecord(
        office=office,
        number=number,
        kind=kind,
        title=row["title"],
        applicants=split_multi(row["applicant"]),
        addresses=[row["address"]],
        ipc=normalize_ipc_list(row["ipc"]),
        publication_date=day,
        application_date=day - dt.timedelta(days=548),
    )


def granted_record(row: dict[str, str], kind: str, filed: dt.date, events=(), *, published=None):
    """A real record turned into a grant of ``kind`` filed on ``filed`` (number re-suffixed)."""
    record = record_of(row, published or dt.date(2019, 7, 12))
    number = record.number[:-1] + kind
    return record.model_copy(
        update={
            "number": number,
            "kind": kind,
            "application_date": filed,
            "application_number": number[2:-1],
            "legal_events": list(events),
        }
    )


def redated(
    rows: list[dict[str, str]], counts: list[int], first_monday: dt.date, *, start: int = 0
) -> list[DocumentRecord]:
    """``counts[i]`` records published on the Tuesday of week ``i`` after ``first_monday``."""
    records = []
    position = start
    for i, n in enumerate(counts):
        day = first_monday + dt.timedelta(weeks=i, days=1)
        for _ in range(n):
            row = rows[position % len(rows)]
            records.append(record_of(row, day, copy=position // len(rows)))
            position += 1
    return records


def ingest(store: Store, records: list[DocumentRecord]) -> None:
    with store.session() as session:
        for record in records:
            ingest_document(session, record)

"""Legal status from real CN legal-event codes and the statutory term."""

from __future__ import annotations

import datetime as dt

import pytest

from tests.search_support import EVENTS, ingest_gazette
from warning.legal_status import Event, derive_status
from warning.search.index import index_pending
from warning.search.service import SearchFilters, search
from warning.search.statuses import load_statuses
from warning.store.models import Document

TODAY = dt.date(2026, 12, 1)
FILED = dt.date(2015, 3, 2)


def status(kind: str, events: list[tuple[str, dt.date]], filed: dt.date | None = FILED, **kw):
    return derive_status(kind, filed, [Event(c, d) for c, d in events], TODAY, **kw)


def test_grant_without_events_is_in_force_and_application_pending() -> None:
    assert status("B", []).status == "in_force"
    assert status("A", []).status == "pending"
    assert status("A", [], granted=True).status == "in_force"
    assert status("A", [("C14", dt.date(2018, 1, 1))]).status == "in_force"  # grant event


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        ("CF01", "lapsed"),  # annual fee not paid
        ("AD01", "lapsed"),  # deemed abandoned
        ("AV01", "lapsed"),  # actively abandoned
        ("WD01", "lapsed"),  # application deemed withdrawn
        ("RJ01", "lapsed"),  # application rejected
        ("MK4A", "expired"),
        ("CX01", "expired"),
        ("IW01", "invalidated"),  # full invalidation
        ("RW01", "invalidated"),
        ("IP01", "in_force"),  # partial invalidation: the rest of the right stays
    ],
)
def test_ending_events(code: str, expected: str) -> None:
    day = dt.date(2020, 5, 6)
    result = status("B", [("PB01", dt.date(2016, 1, 1)), (code, day)])
    assert (result.status, result.event, result.date) == (expected, code, day)
    if expected != "in_force":
        assert result.since == day and result.is_free


def test_transfer_and_licence_are_shown_but_change_nothing() -> None:
    for code in ("TR01", "EE01", "PE01"):
        result = status("B", [(code, dt.date(2021, 2, 2))])
        assert (result.status, result.event, result.date) == ("in_force", code, dt.date(2021, 2, 2))
    lapsed = status(
        "U",
        [("CF01", dt.date(2019, 1, 1)), ("TR01", dt.date(2019, 6, 1))],
        filed=dt.date(2016, 1, 1),
    )
    assert (lapsed.status, lapsed.event, lapsed.since) == ("lapsed", "TR01", dt.date(2019, 1, 1))


def test_restoration_undoes_a_lapse() -> None:
    result = status("B", [("CF01", dt.date(2019, 1, 1)), ("RR01", dt.date(2019, 8, 1))])
    assert (result.status, result.event) == ("in_force", "RR01")


@pytest.mark.parametrize(
    ("kind", "filed", "status_today"),
    [
        ("B", dt.date(2006, 12, 1), "expired"),  # invention: 20 years, ends 2026-12-01
        ("B", dt.date(2006, 12, 2), "in_force"),
        ("U", dt.date(2016, 11, 30), "expired"),  # utility model: 10 years
        ("U", dt.date(2017, 1, 1), "in_force"),
        ("S", dt.date(2016, 6, 1), "expired"),  # design filed before 2021-06-01: 10 years
        ("S", dt.date(2021, 6, 1), "in_force"),  # from 2021-06-01: 15 years
    ],
)
def test_statutory_term(kind: str, filed: dt.date, status_today: str) -> None:
    result = status(kind, [], filed=filed)
    assert result.status == status_today
    if status_today == "expired":
        years = {"B": 20, "U": 10, "S": 10}[kind]
        end = filed.replace(year=filed.year + years)
        assert (result.event, result.date, result.since) == (None, end, end)
    design_15 = status("S", [], filed=dt.date(2021, 6, 1))
    assert derive_status("S", dt.date(2021, 6, 1), [], dt.date(2036, 6, 1)).status == "expired"
    assert design_15.status == "in_force"


def test_statuses_from_the_store_and_the_status_filter(store) -> None:
    records = ingest_gazette(store, 40)
    index_pending(store)
    with store.session() as session:
        ids = {d.number: d.id for d in session.query(Document).all()}
        statuses = load_statuses(session, list(ids.values()), TODAY)
    by_number = {n: statuses[i] for n, i in ids.items()}
    expected = {1: "lapsed", 7: "invalidated", 9: "expired", 3: None, 5: None}
    for row, want in expected.items():
        rec = records[row]
        got = by_number[rec.number]
        assert got.event == EVENTS[row][-1][0]
        if want:
            assert got.status == want
        else:
            assert got.status == ("pending" if rec.kind == "A" else "in_force")
    lapsed_number = records[1].number
    title_word = records[1].title[-2:]
    hits = search(store, f'"{title_word}"', SearchFilters(status="lapsed"), today=TODAY, limit=50)
    assert lapsed_number in [h.number for h in hits.hits]
    assert all(h.legal_status.status == "lapsed" for h in hits.hits)
    assert hits.total == len(hits.hits)


def test_an_application_takes_the_status_of_its_grant(store) -> None:
    from warning.records import DocumentRecord, LegalEventRecord
    from warning.store.ingest import ingest_document

    common = {"office": "CN", "application_number": "CN201510012345.6", "application_date": FILED}
    with store.session() as session:
        ingest_document(
            session, DocumentRecord(number="CN104999999A", kind="A", title="一种轧辊", **common)
        )
        ingest_document(
            session,
            DocumentRecord(
                number="CN104999999B",
                kind="B",
                title="一种轧辊",
                legal_events=[LegalEventRecord(code="CF01", date=dt.date(2022, 3, 1))],
                **common,
            ),
        )
        ids = [d.id for d in session.query(Document).order_by(Document.number).all()]
        statuses = load_statuses(session, ids, TODAY)
    assert [(s.status, s.event) for s in statuses.values()] == [("lapsed", "CF01")] * 2

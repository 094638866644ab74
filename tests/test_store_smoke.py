import datetime as dt
from pathlib import Path

from sqlalchemy import func, select

from crawlers.parsers import parse_file
from warning.records import DocumentRecord, LegalEventRecord
from warning.store.ingest import ingest_document, ingest_documents
from warning.store.models import Applicant, Document, LegalEvent

FIXTURES = Path(__file__).parent / "fixtures" / "crawl"


def _record(**kw):
    base = dict(
        office="CN",
        number="CN110000001A",
        kind="A",
        title="一种取向硅钢的制备方法",
        applicants=["鞍钢股份有限公司"],
        addresses=["114021 辽宁省鞍山市铁西区"],
        ipc=["C21D 8/12(2006.01)I"],
        publication_date="2019-07-09",
        legal_events=[LegalEventRecord(code="CF01", date=dt.date(2020, 1, 1))],
    )
    base.update(kw)
    return DocumentRecord(**base)


def test_reingest_same_document_changes_nothing(store):
    with store.session() as s:
        first = ingest_document(s, _record())
    with store.session() as s:
        again = ingest_document(s, _record())
    with store.session() as s:
        changed = ingest_document(s, _record(title="一种无取向硅钢"))
    assert (first.new, first.new_events) == (1, 1)
    assert (again.new, again.updated, again.unchanged, again.new_events) == (0, 0, 1, 0)
    assert changed.updated == 1
    with store.session() as s:
        assert s.scalar(select(func.count()).select_from(Document)) == 1
        assert s.scalar(select(func.count()).select_from(LegalEvent)) == 1
        doc = s.scalars(select(Document)).one()
        assert doc.ipc == ["C21D8/12"] and doc.title == "一种无取向硅钢"
        assert doc.first_seen_at.tzinfo is not None
        app = s.scalars(select(Applicant)).one()
        assert (app.normalized, app.country, app.city) == ("鞍钢", "CN", "鞍山")


def test_an_event_only_record_never_blanks_the_stored_document(store):
    with store.session() as s:
        ingest_document(s, _record(legal_events=[]))
    bare = DocumentRecord(
        office="CN",
        number="CN110000001A",
        kind="A",
        legal_events=[LegalEventRecord(code="TR01", date=dt.date(2021, 5, 1))],
    )
    with store.session() as s:
        result = ingest_document(s, bare)
    assert (result.new, result.updated, result.new_events) == (0, 0, 1)
    with store.session() as s:
        doc = s.scalars(select(Document)).one()
        assert doc.title == "一种取向硅钢的制备方法" and doc.ipc == ["C21D8/12"] and not doc.is_stub


def test_control_characters_in_crawled_text_are_dropped_and_the_file_is_stored(store, tmp_path):
    """A real gazette export with a NUL and a bell byte written into its first title: the
    records parse without them and store on both databases (PostgreSQL text refuses NUL, which
    would fail the whole file's transaction)."""
    data = (FIXTURES / "gazette_export_709_head.csv").read_bytes()
    lines = data.split(b"\n")
    first = lines[1].split(b",")
    title = next(i for i, field in enumerate(first) if len(field) > 8 and not field.isdigit())
    first[title] = first[title][:4] + b"\x00\x07" + first[title][4:]
    damaged = tmp_path / "damaged.csv"
    damaged.write_bytes(b"\n".join([lines[0], b",".join(first), *lines[2:]]))
    parsed = [r for r in parse_file(damaged) if isinstance(r, DocumentRecord)]
    assert len(parsed) == 12
    with store.session() as s:
        result = ingest_documents(s, parsed)
    assert result.new == 12
    with store.session() as s:
        titles = list(s.scalars(select(Document.title)))
    assert len(titles) == 12 and not any("\x00" in t or "\x07" in t for t in titles)
    assert parsed[0].title in titles and len(parsed[0].title) > 4

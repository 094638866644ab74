"""EPO OPS 3.2 responses: ``published-data/.../biblio`` (exchange documents) and ``/legal``
(INPADOC legal events per family member)."""

from __future__ import annotations

import re
from collections.abc import Iterator

from lxml import etree

from crawlers.parsers.common import (
    BadRecord,
    ParseOutcome,
    build_record,
    clean,
    parse_date,
    parse_xml,
    text_of,
)
from warning.errors import ParseError
from warning.legal_codes import category_of
from warning.records import DocumentRecord, LegalEventRecord

EX = "http://www.epo.org/exchange"
OPS = "http://ops.epo.org"
NS = {"ex": EX, "ops": OPS}


def is_ops_response(root: etree._Element) -> bool:
    return root.tag == f"{{{OPS}}}world-patent-data"


def parse_ops(data: bytes, location: str) -> Iterator[ParseOutcome]:
    """Every exchange document (biblio) or family member (legal) of one OPS response."""
    try:
        root = parse_xml(data, location)
    except ParseError as exc:
        yield BadRecord(location, exc.reason, data)
        return
    if not is_ops_response(root):
        yield BadRecord(
            location, f"root <{root.tag}> is not an OPS world-patent-data response", data
        )
        return
    for index, doc in enumerate(root.iterfind("ex:exchange-documents/ex:exchange-document", NS), 1):
        raw = etree.tostring(doc)
        yield build_record(f"{location}#doc{index}", raw, lambda doc=doc: _biblio(doc))  # type: ignore[misc]
    for index, member in enumerate(root.iterfind("ops:patent-family/ops:family-member", NS), 1):
        if member.find("ops:legal", NS) is None:
            continue
        raw = etree.tostring(member)
        yield build_record(f"{location}#member{index}", raw, lambda m=member: _legal(m))  # type: ignore[misc]


def _docdb(reference: etree._Element | None) -> tuple[str, str, str, str | None]:
    if reference is None:
        raise ParseError("document", "missing publication reference")
    doc_id = reference.find("ex:document-id[@document-id-type='docdb']", NS)
    if doc_id is None:
        raise ParseError("document", "missing docdb document-id")
    country = clean(doc_id.findtext("ex:country", namespaces=NS))
    number = clean(doc_id.findtext("ex:doc-number", namespaces=NS))
    kind = clean(doc_id.findtext("ex:kind", namespaces=NS))
    if not (country and number and kind):
        raise ParseError("document", "docdb document-id lacks country, doc-number or kind")
    return country, number, kind, doc_id.findtext("ex:date", namespaces=NS)


def _names(parent: etree._Element | None, item: str, name_path: str) -> list[str]:
    """Names in the 'original' data format when given (they keep native spelling), else epodoc."""
    if parent is None:
        return []
    rows = parent.findall(f"ex:{item}", NS)
    original = [r for r in rows if r.get("data-format") == "original"]
    chosen = original or rows
    names: list[str] = []
    for row in chosen:
        name = clean(row.findtext(name_path, namespaces=NS)).rstrip(", ")
        if name and name not in names:
            names.append(name)
    return names


def _preferred(elements: list[etree._Element]) -> etree._Element | None:
    for lang in ("zh", "en"):
        for element in elements:
            if element.get("lang") == lang:
                return element
    return elements[0] if elements else None


def _biblio(doc: etree._Element) -> DocumentRecord:
    biblio = doc.find("ex:bibliographic-data", NS)
    if biblio is None:
        raise ParseError("document", "missing bibliographic-data")
    country, number, kind, date = _docdb(biblio.find("ex:publication-reference", NS))
    app = biblio.find("ex:application-reference/ex:document-id[@document-id-type='docdb']", NS)
    parties = biblio.find("ex:parties", NS)
    title = _preferred(biblio.findall("ex:invention-title", NS))
    abstract = _preferred(doc.findall("ex:abstract", NS))
    return DocumentRecord(
        office=country,
        number=f"{country}{number}{kind}",
        kind=kind,
        title=text_of(title),
        abstract=text_of(abstract),
        applicants=_names(
            parties.find("ex:applicants", NS) if parties is not None else None,
            "applicant",
            "ex:applicant-name/ex:name",
        ),
        inventors=_names(
            parties.find("ex:inventors", NS) if parties is not None else None,
            "inventor",
            "ex:inventor-name/ex:name",
        ),
        ipc=[
            _ipcr(t.text)
            for t in biblio.iterfind("ex:classifications-ipcr/ex:classification-ipcr/ex:text", NS)
        ],
        publication_date=parse_date(date),
        application_date=parse_date(app.findtext("ex:date", namespaces=NS))
        if app is not None
        else None,
        application_number=(clean(app.findtext("ex:doc-number", namespaces=NS)) or None)
        if app is not None
        else None,
        language=(title.get("lang") if title is not None else None) or "en",
    )


_IPCR = re.compile(r"^\s*([A-H]\d\d[A-Z])\s*(\d+)\s*/\s*(\d+)")


def _ipcr(text: str | None) -> str:
    """OPS pads symbols into fixed columns: ``C10L   1/    00     A I`` -> ``C10L1/00``."""
    match = _IPCR.match(text or "")
    return "".join((match.group(1), match.group(2), "/", match.group(3))) if match else clean(text)


def _legal(member: etree._Element) -> DocumentRecord:
    country, number, kind, date = _docdb(member.find("ex:publication-reference", NS))
    events: list[LegalEventRecord] = []
    for legal in member.iterfind("ops:legal", NS):
        code = clean(legal.get("code"))
        when = parse_date(legal.findtext("ops:L007EP", namespaces=NS))
        if not code or when is None:
            continue
        events.append(
            LegalEventRecord(
                code=code,
                date=when,
                description=clean(legal.get("desc")),
                category=category_of(code) if country == "CN" else None,
                parties={},
            )
        )
    return DocumentRecord(
        office=country,
        number=f"{country}{number}{kind}",
        kind=kind,
        publication_date=parse_date(date),
        language="en",
        legal_events=events,
    )

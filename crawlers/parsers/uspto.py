"""USPTO bulk full-text XML (grants ``ipg*``, applications ``ipa*``; DTD v4.0 to v4.7).

A weekly file concatenates thousands of documents, each with its own ``<?xml ...?>`` declaration
and DOCTYPE, so the file as a whole is not XML: :func:`split_documents` cuts it at every
declaration and each piece is parsed on its own. A broken piece becomes a bad record and the
other documents still come through.
"""

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
from warning.records import DocumentRecord

_DECLARATION = re.compile(rb"<\?xml[\s?]")
ROOTS = ("us-patent-grant", "us-patent-application")


def split_documents(data: bytes) -> Iterator[tuple[int, bytes]]:
    """(1-based line number, bytes) of every document in a concatenated weekly file."""
    starts = [m.start() for m in _DECLARATION.finditer(data)]  # C speed; no per-line Python work
    if not starts:
        if data.strip():
            yield 1, data
        return
    if data[: starts[0]].strip(b"\xef\xbb\xbf \t\r\n"):
        starts.insert(0, 0)
    line = 1 + data.count(b"\n", 0, starts[0])
    for begin, end in zip(starts, [*starts[1:], len(data)], strict=True):
        chunk = data[begin:end]
        yield line, chunk
        line += chunk.count(b"\n")


def parse_uspto(data: bytes, location: str) -> Iterator[ParseOutcome]:
    """Every document of a (possibly concatenated) USPTO file."""
    for line, chunk in split_documents(data):
        where = f"{location}:{line}"
        if chunk.isspace():
            continue
        yield build_record(where, chunk, lambda chunk=chunk, where=where: _document(chunk, where))  # type: ignore[misc]


def _document(chunk: bytes, where: str) -> DocumentRecord:
    root = parse_xml(chunk, where)
    if root.tag not in ROOTS:
        raise ParseError(where, f"root element <{root.tag}> is not a USPTO patent document")
    biblio = root[0] if len(root) and str(root[0].tag).startswith("us-bibliographic-data") else None
    if biblio is None:
        biblio = root.find("us-bibliographic-data-grant")
        if biblio is None:
            biblio = root.find("us-bibliographic-data-application")
    if biblio is None:
        raise ParseError(where, "missing <us-bibliographic-data-*>")
    pub = biblio.find("publication-reference/document-id")
    if pub is None:
        raise ParseError(where, "missing <publication-reference>")
    country = clean(pub.findtext("country")) or "US"
    doc_number = clean(pub.findtext("doc-number"))
    kind = clean(pub.findtext("kind"))
    if not doc_number or not kind:
        raise ParseError(where, "publication reference lacks doc-number or kind")
    if doc_number.isdigit() and len(doc_number) <= 8:
        doc_number = doc_number.lstrip("0")  # grants: 08926509 -> 8926509
    app = biblio.find("application-reference/document-id")
    applicants, addresses, inventors = _parties(biblio)
    return DocumentRecord(
        office=country,
        number=f"{country}{doc_number}{kind}",
        kind=kind,
        title=clean(biblio.findtext("invention-title")),
        abstract=text_of(root.find("abstract")),
        claims="\n".join(text_of(c) for c in root.iterfind("claims/claim")),
        applicants=applicants,
        addresses=addresses if any(addresses) else [],
        inventors=inventors,
        ipc=_ipc(biblio),
        publication_date=parse_date(pub.findtext("date")),
        application_date=parse_date(app.findtext("date")) if app is not None else None,
        application_number=(clean(app.findtext("doc-number")) or None) if app is not None else None,
        language=(root.get("lang") or "en").lower(),
    )


def _ipc(biblio: etree._Element) -> list[str]:
    symbols: list[str] = []
    for item in biblio.iterfind("classifications-ipcr/classification-ipcr"):
        parts = [clean(item.findtext(t)) for t in ("section", "class", "subclass", "main-group")]
        subgroup = clean(item.findtext("subgroup"))
        if all(parts):
            symbols.append("".join(parts) + "/" + (subgroup or "00"))
    if not symbols:  # v4.0-v4.1: <classification-ipc><main-classification>G06F015/00
        ipc = biblio.find("classification-ipc")
        if ipc is not None:
            for tag in ("main-classification", "further-classification"):
                symbols.extend(clean(e.text) for e in ipc.iterfind(tag))
    return symbols


def _name(book: etree._Element | None) -> str:
    if book is None:
        return ""
    org = clean(book.findtext("orgname"))
    if org:
        return org
    return clean(f"{book.findtext('first-name') or ''} {book.findtext('last-name') or ''}")


def _address(book: etree._Element | None) -> str:
    if book is None:
        return ""
    address = book.find("address")
    if address is None:
        return ""
    parts = [clean(address.findtext(t)) for t in ("city", "state", "country")]
    return ", ".join(p for p in parts if p and p not in ("omitted", "unknown"))


def _parties(biblio: etree._Element) -> tuple[list[str], list[str], list[str]]:
    """(owners, their addresses, inventors): assignees own the patent; without any, applicants."""
    parties = biblio.find("us-parties")
    if parties is None:
        parties = biblio.find("parties")
    applicant_rows: list[tuple[str, str, bool]] = []
    inventors: list[str] = []
    if parties is not None:
        for applicant in [
            *parties.iterfind("us-applicants/us-applicant"),
            *parties.iterfind("applicants/applicant"),
        ]:
            book = applicant.find("addressbook")
            name = _name(book)
            is_inventor = "inventor" in (applicant.get("app-type") or "")
            if name:
                applicant_rows.append((name, _address(book), is_inventor))
            if is_inventor and name:
                inventors.append(name)
        for inventor in parties.iterfind("inventors/inventor"):
            name = _name(inventor.find("addressbook"))
            if name and name not in inventors:
                inventors.append(name)
    owners: list[str] = []
    addresses: list[str] = []
    for assignee in biblio.iterfind("assignees/assignee"):
        book = assignee.find("addressbook")
        name = _name(book) if book is not None else clean(assignee.findtext("orgname"))
        if name and name not in owners:
            owners.append(name)
            addresses.append(_address(book))
    if not owners:
        for name, address, _ in applicant_rows:
            owners.append(name)
            addresses.append(address)
    return owners, addresses, inventors


def bad_file(location: str, reason: str, data: bytes) -> BadRecord:
    return BadRecord(location, reason, data)

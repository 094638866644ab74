"""CNIPA full-text XML: the old ``<cn-patent-document>`` schema and the new
``<business:PatentDocumentAndRelated>`` schema (xsdVersion V2.x), one document per file.

Both are read with direct ``find`` paths (no ``//`` scans), so parsing costs little more than
building the tree.
"""

from __future__ import annotations

from collections.abc import Iterator

from lxml import etree

from crawlers.parsers.common import (
    ParseOutcome,
    build_record,
    clean,
    local,
    parse_date,
    parse_xml,
    text_of,
)
from warning.errors import ParseError
from warning.records import DocumentRecord

BUSINESS = "http://www.sipo.gov.cn/XMLSchema/business"
BASE = "http://www.sipo.gov.cn/XMLSchema/base"
NS = {"b": BUSINESS, "s": BASE}

OLD_ROOT = "cn-patent-document"
NEW_ROOT = "PatentDocumentAndRelated"


def parse_cnipa_xml(data: bytes, location: str) -> Iterator[ParseOutcome]:
    """One CNIPA XML document (either schema) -> one record or one bad record."""

    def make() -> DocumentRecord:
        root = parse_xml(data, location)
        name = local(root.tag)
        if name == OLD_ROOT:
            return _old_schema(root)
        if name == NEW_ROOT:
            return _new_schema(root)
        raise ParseError(location, f"root element <{name}> is not a CNIPA patent document")

    yield build_record(location, data, make)


def _req(value: str, what: str) -> str:
    if not value:
        raise ParseError("document", f"missing {what}")
    return value


# --- old schema ---------------------------------------------------------------------------


def _old_schema(root: etree._Element) -> DocumentRecord:
    biblio = root.find("cn-bibliographic-data")
    if biblio is None:
        raise ParseError("document", "missing <cn-bibliographic-data>")
    pub = biblio.find("cn-publication-reference/document-id")
    if pub is None:
        raise ParseError("document", "missing <cn-publication-reference>")
    country = clean(pub.findtext("country")) or "CN"
    doc_number = _req(clean(pub.findtext("doc-number")), "publication doc-number")
    kind = _req(clean(pub.findtext("kind")), "publication kind")
    app = biblio.find("application-reference/document-id")
    applicants: list[str] = []
    addresses: list[str] = []
    for applicant in biblio.iterfind("cn-parties/cn-applicants/cn-applicant"):
        name = clean(applicant.findtext("addressbook/name"))
        if name:
            applicants.append(name)
            addresses.append(clean(applicant.findtext("addressbook/address/text")))
    inventors = [
        clean(inv.findtext("name"))
        for inv in biblio.iterfind("cn-parties/cn-inventors/cn-inventor")
    ]
    abstract = biblio.find("abstract")
    abstract_text = ""
    if abstract is not None:
        abstract_text = clean(
            " ".join(text_of(p) for p in abstract.iterfind("p") if p.get("num") != "bio")
        )
    claims = root.find("application-body/claims")
    return DocumentRecord(
        office=country,
        number=f"{country}{doc_number}{kind}",
        kind=kind,
        title=clean(biblio.findtext("invention-title")),
        abstract=abstract_text,
        claims=_claims_text(claims, "claim"),
        applicants=applicants,
        addresses=[a for a in addresses] if any(addresses) else [],
        inventors=[i for i in inventors if i],
        ipc=[
            clean(t.text) for t in biblio.iterfind("classifications-ipcr/classification-ipcr/text")
        ],
        publication_date=parse_date(pub.findtext("date")),
        application_date=parse_date(app.findtext("date")) if app is not None else None,
        application_number=(clean(app.findtext("doc-number")) or None) if app is not None else None,
        language=(root.get("lang") or "zh").lower(),
    )


def _claims_text(claims: etree._Element | None, tag: str) -> str:
    if claims is None:
        return ""
    return "\n".join(text_of(c) for c in claims if local(c.tag) == tag)


# --- new schema ---------------------------------------------------------------------------


def _pick_reference(biblio: etree._Element, tag: str, preferred: str) -> etree._Element | None:
    refs = biblio.findall(f"b:{tag}", NS)
    for ref in refs:
        if ref.get("dataFormat") == preferred:
            return ref.find("s:DocumentID", NS)
    return refs[0].find("s:DocumentID", NS) if refs else None


def _is_original(element: etree._Element) -> bool:
    return element.get("dataFormat") in (None, "original")


def _new_schema(root: etree._Element) -> DocumentRecord:
    biblio = root.find("b:BibliographicData", NS)
    if biblio is None:
        raise ParseError("document", "missing <business:BibliographicData>")
    pub = _pick_reference(biblio, "PublicationReference", "standard")
    country = clean(pub.findtext("s:WIPOST3Code", namespaces=NS)) if pub is not None else ""
    country = country or "CN"
    doc_number = clean(pub.findtext("s:DocNumber", namespaces=NS)) if pub is not None else ""
    doc_number = _req(doc_number or clean(root.get("docNumber")), "publication DocNumber")
    kind = clean(pub.findtext("s:Kind", namespaces=NS)) if pub is not None else ""
    kind = _req(kind or clean(root.get("kind")), "publication Kind")
    pub_date = pub.findtext("s:Date", namespaces=NS) if pub is not None else None
    app = _pick_reference(biblio, "ApplicationReference", "original")
    applicants: list[str] = []
    addresses: list[str] = []
    for applicant in biblio.iterfind("b:Parties/b:ApplicantDetails/b:Applicant", NS):
        name = clean(applicant.findtext("s:AddressBook/s:Name", namespaces=NS))
        if not _is_original(applicant) or not name or name in applicants:
            continue
        applicants.append(name)
        addresses.append(clean(applicant.findtext("s:AddressBook/s:Address/s:Text", namespaces=NS)))
    inventors: list[str] = []
    for inventor in biblio.iterfind("b:Parties/b:InventorDetails/b:Inventor", NS):
        name = clean(inventor.findtext("s:AddressBook/s:Name", namespaces=NS))
        if _is_original(inventor) and name and name not in inventors:
            inventors.append(name)
    titles = [t for t in biblio.findall("b:InventionTitle", NS) if _is_original(t)]
    abstract = root.find("b:Abstract", NS)
    claims = root.find("b:Claims", NS)
    return DocumentRecord(
        office=country,
        number=f"{country}{doc_number}{kind}",
        kind=kind,
        title=text_of(titles[0]) if titles else "",
        abstract=" ".join(text_of(p) for p in abstract.iterfind("s:Paragraphs", NS))
        if abstract is not None
        else "",
        claims=_claims_text(claims, "Claim"),
        applicants=applicants,
        addresses=addresses if any(addresses) else [],
        inventors=inventors,
        ipc=[
            clean(t.text)
            for t in biblio.iterfind("b:ClassificationIPCRDetails/b:ClassificationIPCR/s:Text", NS)
        ],
        publication_date=parse_date(pub_date or root.get("datePublication")),
        application_date=parse_date(app.findtext("s:Date", namespaces=NS))
        if app is not None
        else None,
        application_number=(clean(app.findtext("s:DocNumber", namespaces=NS)) or None)
        if app is not None
        else None,
        language=(root.get("lang") or "zh").lower(),
    )

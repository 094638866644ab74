"""CNIPA gazette (公布公告) lists: the HTML list pages and the CSV exports made from them.

A list page holds one ``<div class="cp_linr">`` block per document: the title in ``<h1>``
(prefixed by the gazette type, e.g. ``[发明公布]``) and one ``<li>标签：值</li>`` per field.
Pages may be GB18030; multi-valued fields are separated by ``;``. The 2019 CSV exports keep
the same fields (saved by Excel as GB18030, with ``??`` for lost separators and application
numbers damaged into scientific notation, which are dropped rather than stored wrong).
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator

from lxml import html

from crawlers.parsers.common import (
    BadRecord,
    ParseOutcome,
    build_record,
    clean,
    parse_date,
    split_multi,
)
from warning.errors import ParseError
from warning.records import DocumentRecord, split_number

#: gazette label -> record field (several labels name the same field across gazette types)
LABELS: dict[str, str] = {
    "申请公布号": "number",
    "授权公告号": "number",
    "公开号": "number",
    "公告号": "number",
    "公开/公告号": "number",
    "公布号": "number",
    "申请公布日": "publication_date",
    "授权公告日": "publication_date",
    "公开日": "publication_date",
    "公告日": "publication_date",
    "公开/公告日": "publication_date",
    "公布日": "publication_date",
    "申请号": "application_number",
    "申请日": "application_date",
    "申请人": "applicants",
    "专利权人": "applicants",
    "申请人/专利权人": "applicants",
    "发明人": "inventors",
    "设计人": "inventors",
    "发明人/设计人": "inventors",
    "地址": "address",
    "分类号": "ipc",
    "IPC分类号": "ipc",
    "Int.Cl.": "ipc",
    "摘要": "abstract",
}

#: gazette type in the title prefix -> kind code when the number carries none
TYPE_KIND = {"发明公布": "A", "发明授权": "B", "实用新型": "U", "外观设计": "S"}

_TYPE_PREFIX = re.compile(r"^\s*[\[【]\s*([^\]】]+?)\s*[\]】]\s*")
_SCIENTIFIC = re.compile(r"^\d+(\.\d+)?E[+-]?\d+$", re.IGNORECASE)


def decode_page(data: bytes, declared: str | None = None) -> str:
    """Decode a list page: declared charset, else ``<meta charset>``, else UTF-8, else GB18030."""
    candidates: list[str] = []
    if declared:
        candidates.append(declared)
    meta = re.search(rb"charset\s*=\s*[\"']?([A-Za-z0-9_-]+)", data[:2048])
    if meta:
        candidates.append(meta.group(1).decode("ascii"))
    candidates += ["utf-8", "gb18030"]
    for encoding in candidates:
        name = "gb18030" if encoding.lower() in ("gbk", "gb2312", "gb18030") else encoding
        try:
            return data.decode(name)
        except (UnicodeDecodeError, LookupError):
            continue
    return data.decode("gb18030", errors="replace")


def _fields_to_record(fields: dict[str, str], title: str, gazette_type: str) -> DocumentRecord:
    number = "".join(fields.get("number", "").split()).upper()
    if not number:
        raise ParseError("record", "missing publication/announcement number (公布/公告号)")
    office, _serial, kind = split_number(number)
    if not kind:
        kind = TYPE_KIND.get(gazette_type, "")
        if not kind:
            raise ParseError(
                "record", f"number {number!r} has no kind code and the gazette type is unknown"
            )
        number += kind
    app_number = clean(fields.get("application_number")).replace(" ", "")
    if _SCIENTIFIC.match(app_number):
        app_number = ""
    applicants = split_multi(fields.get("applicants"))
    address = clean(fields.get("address"))
    return DocumentRecord(
        office=office or "CN",
        number=number,
        kind=kind,
        title=title,
        abstract=clean(fields.get("abstract")),
        applicants=applicants,
        addresses=[address] if address else [],
        inventors=split_multi(fields.get("inventors")),
        ipc=split_multi(fields.get("ipc")),
        publication_date=parse_date(fields.get("publication_date")),
        application_date=parse_date(fields.get("application_date")),
        application_number=app_number or None,
        language="zh",
    )


def parse_gazette_html(
    data: bytes, location: str, encoding: str | None = None
) -> Iterator[ParseOutcome]:
    """Every ``.cp_linr`` block of a list page; a block that cannot be read is a bad record."""
    text = decode_page(data, encoding)
    try:
        tree = html.fromstring(text)
    except Exception as exc:  # lxml raises ParserError/ValueError on empty or binary input
        yield BadRecord(location, f"not an HTML page: {exc}", data)
        return
    found = tree.xpath('//div[contains(concat(" ", normalize-space(@class), " "), " cp_linr ")]')
    blocks = (
        [b for b in found if isinstance(b, html.HtmlElement)] if isinstance(found, list) else []
    )
    for index, block in enumerate(blocks, start=1):
        raw = html.tostring(block, encoding="unicode").encode("utf-8")
        yield build_record(f"{location}#{index}", raw, lambda block=block: _block(block))  # type: ignore[misc]


def _block(block: html.HtmlElement) -> DocumentRecord:
    heading = clean(block.findtext(".//h1") or "")
    match = _TYPE_PREFIX.match(heading)
    gazette_type = match.group(1) if match else ""
    title = heading[match.end() :] if match else heading
    fields: dict[str, str] = {}
    for item in block.iter("li"):
        label, sep, value = clean(item.text_content()).partition("：")
        if not sep:
            label, sep, value = clean(item.text_content()).partition(":")
        key = LABELS.get(label.strip())
        if key and key not in fields:
            fields[key] = value.strip()
    if not title:
        raise ParseError("record", "missing title (<h1>)")
    return _fields_to_record(fields, title, gazette_type)


#: CSV column -> gazette label, for the 2019 exports (``Foristkirito/CNIPASpider`` layout)
CSV_COLUMNS = {
    "name": "title",
    "authorization_notice_id": "number",
    "authorized_announcement_date": "publication_date",
    "filing_id": "application_number",
    "filing_date": "application_date",
    "patentee": "applicants",
    "designer": "inventors",
    "address": "address",
    "Int.Cl.": "ipc",
}


def parse_gazette_csv(data: bytes, location: str) -> Iterator[ParseOutcome]:
    """Rows of a gazette CSV export (GB18030 or UTF-8)."""
    text = decode_page(data.removeprefix(b"\xef\xbb\xbf"))
    reader = csv.DictReader(io.StringIO(text))
    missing = {"name", "authorization_notice_id"} - set(reader.fieldnames or [])
    if missing:
        yield BadRecord(
            location, f"not a gazette CSV: missing columns {sorted(missing)}", data[:4096]
        )
        return
    for row in reader:
        line = reader.line_num
        raw = ",".join(v or "" for v in row.values() if isinstance(v, str)).encode("utf-8")
        fields = {CSV_COLUMNS[k]: v or "" for k, v in row.items() if k in CSV_COLUMNS}
        title = clean(fields.pop("title", ""))
        yield build_record(
            f"{location}:{line}",
            raw,
            lambda f=fields, t=title: _fields_to_record(f, t, ""),  # type: ignore[misc]
        )

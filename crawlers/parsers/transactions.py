"""Chinese legal-status transaction data (事务数据): one row per legal event.

Columns (a header row, Chinese or English names; UTF-8 or GB18030):

==================  ===================  =======================================
Chinese             English              meaning
==================  ===================  =======================================
公开公告号           publication_number   the document, with kind (CN209102019U)
申请号               application_number   optional
法律状态公告日        date                 event date
法律状态代码          code                 CN code: CF01, TR01, EE01, PE01, IW01 ...
法律状态              status               description as printed (optional)
法律状态信息          info                 free text naming the parties (optional)
==================  ===================  =======================================

Rows for the same document become one record carrying only legal events; the store attaches
them to the document (or a stub until the document itself arrives).
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from typing import Any

from crawlers.parsers.common import BadRecord, ParseOutcome, clean, parse_date
from crawlers.parsers.gazette import decode_page
from warning.legal_codes import category_of, describe
from warning.records import DocumentRecord, LegalEventRecord, split_number

COLUMNS: dict[str, str] = {
    "公开公告号": "publication_number",
    "公开（公告）号": "publication_number",
    "公开(公告)号": "publication_number",
    "申请号": "application_number",
    "法律状态公告日": "date",
    "法律状态代码": "code",
    "法律状态": "status",
    "法律状态信息": "info",
}
REQUIRED = ("publication_number", "date", "code")

#: (from-label, to-label) pairs naming the parties of transfers, licences and pledges
_PARTY_LABELS = (
    ("变更前权利人", "变更后权利人"),
    ("变更前专利权人", "变更后专利权人"),
    ("变更前申请人", "变更后申请人"),
    ("让与人", "受让人"),
    ("许可人", "被许可人"),
    ("出质人", "质权人"),
)
_SEPARATORS = re.compile(r"[;；、]")


def parties_of(info: str) -> dict[str, Any]:
    """``{"from": [...], "to": [...]}`` from the event's free text, when it names them."""
    for before, after in _PARTY_LABELS:
        match = re.search(
            rf"(?<!被){before}[:：]\s*(.*?)\s*{after}[:：]\s*(.*?)(?:\s{{2,}}|$|\s\S+[:：])", info
        )
        if match:
            return {
                "from": [clean(p) for p in _SEPARATORS.split(match.group(1)) if clean(p)],
                "to": [clean(p) for p in _SEPARATORS.split(match.group(2)) if clean(p)],
            }
    return {}


def looks_like_transactions(head: str) -> bool:
    first = head.splitlines()[0] if head else ""
    return ("法律状态代码" in first) or ("code" in first and "publication_number" in first)


def parse_transactions(data: bytes, location: str) -> Iterator[ParseOutcome]:
    text = decode_page(data.removeprefix(b"\xef\xbb\xbf"))
    reader = csv.DictReader(io.StringIO(text))
    names = {name: COLUMNS.get(name.strip(), name.strip()) for name in reader.fieldnames or []}
    missing = [c for c in REQUIRED if c not in names.values()]
    if missing:
        yield BadRecord(location, f"not a transaction file: missing columns {missing}", data[:4096])
        return
    pending: dict[str, tuple[DocumentRecord, list[str]]] = {}
    for row in reader:
        line = reader.line_num
        values = {
            names[k]: clean(v) for k, v in row.items() if k is not None and isinstance(v, str)
        }
        raw = ",".join(values.values()).encode("utf-8")
        where = f"{location}:{line}"
        number = values.get("publication_number", "").replace(" ", "").upper()
        code = values.get("code", "").upper()
        date = parse_date(values.get("date"))
        if not number or not code or date is None:
            yield BadRecord(where, "row needs publication_number, code and a valid date", raw)
            continue
        office, _serial, kind = split_number(number)
        if not kind:
            yield BadRecord(where, f"publication number {number!r} has no kind code", raw)
            continue
        info = values.get("info", "")
        status = values.get("status", "")
        event = LegalEventRecord(
            code=code,
            date=date,
            description=" ".join(p for p in (status or describe(code), info) if p),
            category=category_of(code) or "other",
            parties=parties_of(info) if info else {},
        )
        if number not in pending:
            record = DocumentRecord(
                office=office,
                number=number,
                kind=kind,
                application_number=values.get("application_number") or None,
                language="zh",
            )
            pending[number] = (record, [])
        pending[number][0].legal_events.append(event)
    for record, _ in pending.values():
        yield record

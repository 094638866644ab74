"""What every parser shares: the outcome types, a safe XML parser, dates and text clean-up."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from lxml import etree
from pydantic import ValidationError

from warning.errors import ParseError
from warning.records import DocumentRecord


@dataclass(frozen=True)
class BadRecord:
    """A record that could not be parsed: kept with its raw bytes so nothing is silently lost."""

    location: str
    reason: str
    raw: bytes


ParseOutcome = DocumentRecord | BadRecord

#: no DTD loading, no entity expansion, no network: bulletins are untrusted input
_XML_PARSER = etree.XMLParser(
    resolve_entities=False, no_network=True, load_dtd=False, huge_tree=True
)


def parse_xml(data: bytes, location: str) -> etree._Element:
    """The root element of ``data`` or :class:`ParseError` naming the line and the reason."""
    try:
        root = etree.fromstring(data, _XML_PARSER)
    except etree.XMLSyntaxError as exc:
        raise ParseError(location, f"not well-formed XML: {exc}") from None
    if root is None:
        raise ParseError(location, "empty XML document")
    return root


def local(tag: object) -> str:
    """Tag name without namespace (``{ns}Name`` -> ``Name``); '' for comments and PIs."""
    if not isinstance(tag, str):
        return ""
    return tag.rsplit("}", 1)[-1]


def clean(text: str | None) -> str:
    """Collapse whitespace (also ideographic space) and strip."""
    if not text:
        return ""
    return " ".join(text.split())  # str.split() knows every Unicode space, \u3000 included


def text_of(element: etree._Element | None) -> str:
    if element is None:
        return ""
    # serialising as text runs in C; much faster than joining itertext() in Python
    return clean(etree.tostring(element, method="text", encoding="unicode", with_tail=False))


_DATE = re.compile(r"^(\d{4})[-./年]?(\d{1,2})[-./月]?(\d{1,2})日?$")


def parse_date(value: str | None) -> dt.date | None:
    """``20141224``, ``2019.07.12``, ``2019-7-12``, ``2019年7月12日`` -> date; junk -> None."""
    text = clean(value).replace(" ", "")
    if not text or set(text) <= {"0"}:
        return None
    match = _DATE.match(text)
    if not match:
        return None
    year, month, day = (int(g) for g in match.groups())
    try:
        return dt.date(year, month, day)
    except ValueError:
        return None


def split_multi(value: str | None) -> list[str]:
    """Split a multi-valued gazette field (``;`` or ``；`` or Excel's ``??``), dropping blanks."""
    if not value:
        return []
    parts = re.split(r"[;；]|\?\?", value)
    return [clean(p) for p in parts if clean(p)]


def build_record(location: str, raw: bytes, make: Callable[[], DocumentRecord]) -> ParseOutcome:
    """Run ``make``; a validation or parse failure becomes a :class:`BadRecord` for quarantine."""
    try:
        return make()
    except ParseError as exc:
        return BadRecord(location, exc.reason, raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(p) for p in first["loc"])
        return BadRecord(location, f"invalid record: {field}: {first['msg']}", raw)
    except (ValueError, IndexError, KeyError, AttributeError) as exc:
        return BadRecord(location, f"cannot read record: {type(exc).__name__}: {exc}", raw)


def single(location: str, raw: bytes, make: Callable[[], DocumentRecord]) -> Iterator[ParseOutcome]:
    yield build_record(location, raw, make)

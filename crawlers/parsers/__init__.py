"""Parse bulletin bytes of any supported format into :class:`DocumentRecord` objects.

Plain functions, no Scrapy: ``ipwarn parse``, the spiders and the benchmark all call
:func:`parse_bytes`. Every outcome is either a record or a :class:`BadRecord` (location, reason,
raw bytes) so that one malformed record never stops the rest of a file.
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path

from crawlers.parsers.cnipa_xml import parse_cnipa_xml
from crawlers.parsers.common import BadRecord, ParseOutcome
from crawlers.parsers.epo_ops import parse_ops
from crawlers.parsers.gazette import decode_page, parse_gazette_csv, parse_gazette_html
from crawlers.parsers.transactions import looks_like_transactions, parse_transactions
from crawlers.parsers.uspto import parse_uspto

__all__ = ["FORMATS", "BadRecord", "ParseOutcome", "detect_format", "parse_bytes", "parse_file"]

Parser = Callable[[bytes, str], Iterator[ParseOutcome]]

#: format name -> parser; ``zip`` is handled by :func:`parse_bytes` itself
FORMATS: dict[str, Parser] = {
    "cnipa-xml": parse_cnipa_xml,
    "uspto": parse_uspto,
    "cnipa-gazette": parse_gazette_html,
    "cnipa-gazette-csv": parse_gazette_csv,
    "cn-transactions": parse_transactions,
    "epo-ops": parse_ops,
}
FORMAT_NAMES = (*FORMATS, "zip")

#: refuse archive members bigger than this when unpacked (zip-bomb guard)
MAX_MEMBER_BYTES = 1 << 30
MAX_ZIP_DEPTH = 2
_SNIFF = 8192


def detect_format(data: bytes, name: str = "") -> str | None:
    """The format of ``data`` from its first bytes (the file name only breaks ties)."""
    if data[:4] == b"PK\x03\x04":
        return "zip"
    head = data[:_SNIFF]
    if b"<us-patent-grant" in head or b"<us-patent-application" in head:
        return "uspto"
    if b"<cn-patent-document" in head or b"PatentDocumentAndRelated" in head:
        return "cnipa-xml"
    if b"world-patent-data" in head and b"ops.epo.org" in head:
        return "epo-ops"
    lowered = head.lower()
    if b"cp_linr" in lowered or b"<html" in lowered:
        return "cnipa-gazette"
    text = decode_page(head.removeprefix(b"\xef\xbb\xbf")[:4096]) if head else ""
    if looks_like_transactions(text):
        return "cn-transactions"
    first = text.splitlines()[0] if text else ""
    if "authorization_notice_id" in first:
        return "cnipa-gazette-csv"
    suffix = Path(name).suffix.lower()
    if suffix in (".html", ".htm"):
        return "cnipa-gazette"
    return None


def parse_bytes(
    data: bytes, name: str, fmt: str | None = None, *, _depth: int = 0
) -> Iterator[ParseOutcome]:
    """Every record in ``data``; ``fmt`` forces a format instead of sniffing it."""
    chosen = fmt or detect_format(data, name)
    if chosen is None:
        yield BadRecord(name, "unknown bulletin format (use --format to force one)", data[:65536])
        return
    if chosen == "zip":
        yield from _parse_zip(data, name, _depth)
        return
    parser = FORMATS.get(chosen)
    if parser is None:
        yield BadRecord(name, f"unknown format {chosen!r}; known: {', '.join(FORMAT_NAMES)}", b"")
        return
    yield from parser(data, name)


def _parse_zip(data: bytes, name: str, depth: int) -> Iterator[ParseOutcome]:
    if depth >= MAX_ZIP_DEPTH:
        yield BadRecord(name, "ZIP nested too deeply", b"")
        return
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        members = [
            m
            for m in archive.infolist()
            if not m.is_dir() and not m.filename.startswith("__MACOSX")
        ]
    except (zipfile.BadZipFile, OSError) as exc:
        yield BadRecord(name, f"not a readable ZIP archive: {exc}", data[:65536])
        return
    for member in sorted(members, key=lambda m: m.filename):
        where = f"{name}!{member.filename}"
        if member.file_size > MAX_MEMBER_BYTES:
            yield BadRecord(where, f"archive member too large ({member.file_size} bytes)", b"")
            continue
        try:
            payload = archive.read(member)
        except (zipfile.BadZipFile, OSError, EOFError) as exc:
            yield BadRecord(where, f"cannot unpack archive member: {exc}", b"")
            continue
        yield from parse_bytes(payload, where, _depth=depth + 1)


def parse_file(path: Path, fmt: str | None = None) -> Iterator[ParseOutcome]:
    """Every record in the file at ``path``."""
    yield from parse_bytes(path.read_bytes(), str(path), fmt)

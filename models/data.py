"""The shipped training data and its weak labels.

Labels come from the taxonomy: a document is in every sector one of its IPC symbols falls under,
and ``other`` when none. IPC titles are extra training text labelled by their own code; a code
that is a proper ancestor of a sector prefix (``C22C`` above ``C22C38/``) is ambiguous and left
out, and a subgroup's title is prefixed with its main group's, since alone it is a fragment
("带冷却设备的").
"""

from __future__ import annotations

import gzip
import hashlib
import json
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from warning.taxonomy import OTHER, Taxonomy

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

DATA_DIR = Path(__file__).parent / "data"
GAZETTE = "gazette_2019.jsonl.gz"
IPC_TITLES = ("ipc_titles_zh.tsv.gz", "ipc_titles_en.tsv.gz")

#: publication-number buckets (crc32 % 10): training, threshold/fusion tuning, held-out test
TRAIN_BUCKETS = range(0, 7)
TUNE_BUCKETS = range(7, 8)
TEST_BUCKETS = range(8, 10)


@dataclass(frozen=True)
class Example:
    number: str
    text: str
    ipc: tuple[str, ...]
    #: "gazette" (a shipped 2019 title), "store" (a document this installation crawled) or
    #: "ipc_title" (augmentation)
    origin: str

    def record(self) -> dict[str, object]:
        """The example as ``classify`` input: a JSON-line-shaped dict."""
        return {"number": self.number, "title": self.text, "ipc": list(self.ipc)}

    @property
    def is_document(self) -> bool:
        """A real patent document (shipped or crawled), as opposed to an IPC title."""
        return self.origin != "ipc_title"

    @property
    def bucket(self) -> int:
        return zlib.crc32(self.number.encode("utf-8")) % 10


def weak_labels(taxonomy: Taxonomy, ipc: tuple[str, ...] | list[str]) -> frozenset[str]:
    """The sectors the taxonomy puts these IPC symbols in, or ``{"other"}``."""
    return frozenset(taxonomy.sectors_for_ipc(list(ipc))) or frozenset({OTHER})


def read_gazette(data_dir: Path = DATA_DIR, name: str = GAZETTE) -> list[Example]:
    with gzip.open(data_dir / name, "rt", encoding="utf-8") as handle:
        rows = [json.loads(line) for line in handle if line.strip()]
    return [Example(r["number"], r["title"], tuple(r["ipc"]), "gazette") for r in rows]


def _ambiguous(code: str, prefixes: list[str]) -> bool:
    return any(p != code and p.startswith(code) for p in prefixes)


def read_ipc_titles(taxonomy: Taxonomy, data_dir: Path = DATA_DIR) -> list[Example]:
    prefixes = [p for s in taxonomy.sectors for p in s.ipc]
    examples: list[Example] = []
    for name in IPC_TITLES:
        path = data_dir / name
        if not path.exists():
            continue
        with gzip.open(path, "rt", encoding="utf-8") as handle:
            items = [line.rstrip("\n").split("\t", 1) for line in handle if "\t" in line]
        titles = dict((code, title) for code, title in items)
        for code, title in items:
            if _ambiguous(code, prefixes):
                continue
            if "/" in code and not code.endswith("/00"):
                title = f"{titles.get(code.split('/')[0] + '/00', '')} {title}"
            examples.append(Example(f"IPC:{name[11:13]}:{code}", title, (code,), "ipc_title"))
    return examples


def read_store_examples(session: Session, exclude: set[str] | None = None) -> list[Example]:
    """Stored documents with IPC as labelled examples: labels come from their IPC, as for the
    gazette, so every crawled CN/US/EP document is a free training example of its own year.

    The text is what classification reads (title plus the start of the abstract or claims).
    Stubs, documents without title or IPC, and numbers in ``exclude`` (the shipped gazette)
    are skipped; ordered by number, so the same store gives the same examples.
    """
    from sqlalchemy import select

    from models.text import document_text
    from warning.store.models import Document

    rows = session.execute(
        select(Document.number, Document.title, Document.abstract, Document.claims, Document.ipc)
        .where(Document.is_stub.is_(False), Document.title != "")
        .order_by(Document.number)
    )
    skip = exclude or set()
    return [
        Example(number, document_text(title, abstract or "", claims or ""), tuple(ipc), "store")
        for number, title, abstract, claims, ipc in rows
        if ipc and number not in skip
    ]


def examples_hash(examples: list[Example]) -> str:
    """SHA-256 of examples (number, text, IPC): records which store snapshot a model saw."""
    digest = hashlib.sha256()
    for e in examples:
        digest.update(json.dumps([e.number, e.text, list(e.ipc)], ensure_ascii=False).encode())
    return digest.hexdigest()


def data_hash(data_dir: Path = DATA_DIR, names: tuple[str, ...] = (GAZETTE, *IPC_TITLES)) -> str:
    """SHA-256 over the training files, recorded in the artifact's metadata."""
    digest = hashlib.sha256()
    for name in names:
        path = data_dir / name
        if path.exists():
            digest.update(name.encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()


def iter_split(examples: list[Example], buckets: range) -> Iterator[Example]:
    return (e for e in examples if e.bucket in buckets)

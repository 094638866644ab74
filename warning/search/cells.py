"""Score cells: documents grouped by what bounds their BM25 score, so a search scores only the
documents that can still reach its top hits.

A phrase's BM25 term in a document is ``idf * f * (k1 + 1) / (f + k1 * (1 - b + b * D / avgdl))``:
it grows with the phrase frequency ``f`` and shrinks with the length ``D``. ``f`` never exceeds
the document's largest token count (``max_tf``: a phrase occurs at most as often as its first
token). So every document of a cell — a class of ``max_tf`` crossed with a class of lengths —
scores at most ``sum(idf) * g(F, D_lo)`` for the class's highest ``max_tf`` ``F`` and lowest
length ``D_lo``. A search takes its best hits from the cells of highest bound first and stops
when the k-th best score found beats the bound of every cell not yet scored: exactly the hits,
order and scores of scoring every match.

On SQLite the cell rides in the FTS5 rowid (with the document id, kind, office and publication
day: :func:`fts_key`), so FTS5 yields it with every match and SQLite skips the other cells'
rows before ``bm25()`` is called, and filters on kind, office and dates need no join; on
PostgreSQL ``search_index.cell`` is read from the row before its tsvector is unnested.
Changing the classes below must re-index every document (bump ``tokens.TOKENIZER_VERSION``):
a row filed under another cell's bounds could be skipped.
"""

from __future__ import annotations

import datetime as dt
from bisect import bisect_left, bisect_right
from collections import Counter

#: upper bounds of the max_tf classes (class i holds max_tf <= TF_BOUNDS[i])
TF_BOUNDS = (1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 48, 64, 128, 256, 1 << 30)
#: lower bounds of the length classes (class j holds LENGTH_FLOORS[j] <= length < next floor)
LENGTH_FLOORS = (
    0, 2, 3, 4, 5, 6, 7, 8, 9, 10, 12, 14, 16, 19, 22, 26, 30, 35, 40, 48, 56, 64, 80, 96,
    112, 128, 160, 192, 224, 256, 320, 384, 448, 512, 640, 768, 896, 1024, 1280, 1536, 1792,
    2048, 2560, 3072, 3584, 4096, 5120, 6144, 8192, 12288,
)  # fmt: skip
_STRIDE = 64
#: the document id in an FTS5 rowid
ID_BITS = 32
ID_MASK = (1 << ID_BITS) - 1
K1 = 1.2
B = 0.75


def max_tf(tokens: list[str]) -> int:
    """The count of the document's most frequent token (0 for no tokens)."""
    return max(Counter(tokens).values(), default=0)


def cell_of(length: int, top_tf: int) -> int:
    return bisect_left(TF_BOUNDS, top_tf) * _STRIDE + bisect_right(LENGTH_FLOORS, length) - 1


#: FTS5 rowid layout, low to high: document id (32 bits), cell (10), kind letter (3),
#: office (2), publication day (16: days since 1900-01-01, clamped to 1..65535; 0 = none)
CELL_BITS, KIND_SHIFT, OFFICE_SHIFT, DAY_SHIFT = 10, 42, 45, 47
CELL_MASK = (1 << CELL_BITS) - 1
KIND_CODES = {"A": 1, "B": 2, "U": 3, "S": 4}
OFFICE_CODES = {"CN": 1, "US": 2, "EP": 3}
EPOCH = dt.date(1900, 1, 1)
MAX_DAY = (1 << 16) - 1


def day_code(day: dt.date | None) -> int:
    """The publication day in the rowid: order-preserving, clamped at both ends (a filter date
    is used in the rowid only strictly inside the range, where clamping cannot change it)."""
    if day is None:
        return 0
    return min(MAX_DAY, max(1, (day - EPOCH).days))


def day_in_range(day: dt.date) -> bool:
    return 1 < (day - EPOCH).days < MAX_DAY


def kind_code(kind: str | None) -> int:
    """The kind's first letter (SQLite's LIKE 'B%' ignores ASCII case: so does this)."""
    return KIND_CODES.get((kind or "")[:1].upper(), 0)


def office_code(office: str | None) -> int:
    return OFFICE_CODES.get(office or "", 0)


def fts_key(
    cell: int,
    document_id: int,
    *,
    kind: str | None = None,
    office: str | None = None,
    published: dt.date | None = None,
) -> int:
    """The FTS5 rowid of a document: its id in the low 32 bits, above them its cell, kind,
    office and publication day, so FTS5 yields them with every match."""
    return (
        (day_code(published) << DAY_SHIFT)
        | (office_code(office) << OFFICE_SHIFT)
        | (kind_code(kind) << KIND_SHIFT)
        | (cell << ID_BITS)
        | document_id
    )


def all_cells() -> list[int]:
    return [i * _STRIDE + j for i in range(len(TF_BOUNDS)) for j in range(len(LENGTH_FLOORS))]


def bound(cell: int, avgdl: float) -> float:
    """The highest ``f * (k1 + 1) / (f + k1 * (1 - b + b * D / avgdl))`` of a document in
    ``cell``, with a margin for rounding."""
    top_tf = TF_BOUNDS[cell // _STRIDE]
    floor = LENGTH_FLOORS[cell % _STRIDE]
    return 1.000001 * top_tf * (K1 + 1.0) / (top_tf + K1 * (1 - B + B * floor / avgdl))

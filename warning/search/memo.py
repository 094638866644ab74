"""Values computed from a store's documents, kept per process until the documents change.

A screening report states the store's coverage (documents per source, publication date range):
a scan of every document, about a second on a million. It changes only when documents do, so
it is kept with a fingerprint of the documents table and recomputed when the fingerprint moves:
the number of documents (a deletion), the highest id (an insertion) and the latest
``updated_at`` (ingest sets it on every change of a stored document, a stub's completion
included). Each is one index lookup, or a count over the smallest index.
"""

from __future__ import annotations

import datetime as dt
import threading
import weakref
from collections.abc import Callable
from typing import Any, TypeVar

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from warning.store.engine import Store
from warning.store.models import Document

T = TypeVar("T")
Fingerprint = tuple[int, int | None, dt.datetime | None]

_lock = threading.Lock()
#: store -> name -> (fingerprint, value); a store's values go with the store object
_memo: weakref.WeakKeyDictionary[Store, dict[str, tuple[Fingerprint, Any]]] = (
    weakref.WeakKeyDictionary()
)


def documents_fingerprint(session: Session) -> Fingerprint:
    """(documents, highest id, latest ``updated_at``): changes whenever the documents do."""
    row = session.execute(
        select(
            select(func.count()).select_from(Document).scalar_subquery(),
            select(func.max(Document.id)).scalar_subquery(),
            select(func.max(Document.updated_at)).scalar_subquery(),
        )
    ).one()
    return int(row[0]), row[1], row[2]


def memoised(store: Store, session: Session, name: str, compute: Callable[[Session], T]) -> T:
    """``compute(session)``, or its value from an earlier call while the documents are unchanged."""
    key = documents_fingerprint(session)
    with _lock:
        values = _memo.setdefault(store, {})
        found = values.get(name)
    if found is not None and found[0] == key:
        value: T = found[1]
        return value
    value = compute(session)
    with _lock:
        values[name] = (key, value)
    return value

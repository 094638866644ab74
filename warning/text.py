"""Text that no store can hold, and text that is no text: one definition for every input path.

PostgreSQL text refuses NUL (SQLite stores it), and UTF-8 cannot encode a lone surrogate (a
JSON ``"\\ud800"``). User input holding either is refused naming the field (console/API, YAML
files); crawled text is scrubbed of every control character instead, since one bad byte in a
gazette row must not cost the file.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
#: control characters (tab, newline and carriage return aside) and lone surrogates
_UNPRINTABLE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff]")
UNSTORABLE_MESSAGE = "contains a NUL character or a lone surrogate: remove it"


def unstorable(value: str) -> bool:
    return _UNSTORABLE.search(value) is not None


def scrub(value: Any) -> Any:
    """``value`` without control characters or lone surrogates, in strings at any depth."""
    if isinstance(value, str):
        return _UNPRINTABLE.sub("", value)
    if isinstance(value, list):
        return [scrub(v) for v in value]
    if isinstance(value, dict):
        return {k: scrub(v) for k, v in value.items()}
    return value


def strings_in(
    value: Any, path: tuple[str | int, ...] = ()
) -> Iterator[tuple[tuple[str | int, ...], str]]:
    """(path, text) of every string key and string value of nested dicts and lists; a key is
    reported at the path it names (``("scope", "keywords")`` for the key and for its value)."""
    if isinstance(value, str):
        yield path, value
    elif isinstance(value, dict):
        for key, item in value.items():
            if isinstance(key, str):
                yield (*path, key), key
            yield from strings_in(item, (*path, str(key)))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from strings_in(item, (*path, index))

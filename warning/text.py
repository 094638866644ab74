"""Text that no store can hold, and text that is no text: one definition for every input path.

PostgreSQL text refuses NUL (SQLite stores it), and UTF-8 cannot encode a lone surrogate (a
JSON ``"\\ud800"``). User input holding either is refused naming the field (console/API, YAML
files); crawled text is scrubbed of every control character instead, since one bad byte in a
gazette row must not cost the file.
"""

from __future__ import annotations

import re
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

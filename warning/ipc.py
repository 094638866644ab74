"""IPC symbol normalisation shared by parsers, the classifier, rules and the taxonomy.

"C21D 8/12(2006.01)I" -> "C21D8/12"; "C21D0008120000" (14-character form) -> "C21D8/12";
"H01L  31/18" -> "H01L31/18". Prefix matching is then plain ``str.startswith``.
"""

from __future__ import annotations

import re

_SUFFIX = re.compile(r"\(\s*\d{4}\.\d{2}\s*\)\s*[A-Z]?\s*$|\s+\d{4}\.\d{2}.*$")
_FOURTEEN = re.compile(r"^([A-H]\d{2}[A-Z])(\d{4})(\d{6})$")
_SYMBOL = re.compile(r"^([A-H])(\d{2})?([A-Z])?(\d{1,4})?(?:/(\d{1,6}))?$")
_FULLWIDTH = str.maketrans(
    {chr(c): chr(c - 0xFEE0) for c in range(0xFF01, 0xFF5F)} | {"\u3000": " "}
)


def normalize_ipc(raw: str) -> str | None:
    """Return the normalised symbol, or None when ``raw`` is not an IPC symbol (e.g. Locarno)."""
    text = raw.translate(_FULLWIDTH).strip().upper()
    text = _SUFFIX.sub("", text).strip()
    m14 = _FOURTEEN.match(text.replace(" ", ""))
    if m14:
        sub, group, rest = m14.groups()
        main = str(int(group))
        subgroup = rest.rstrip("0") or "00"
        if len(subgroup) < 2:
            subgroup = subgroup + "0"
        return f"{sub}{main}/{subgroup}"
    text = re.sub(r"\s+", "", text)
    match = _SYMBOL.match(text)
    if not match:
        return None
    section, cls, subclass, group, subgroup = match.groups()
    if group and not subclass:
        return None
    out = section + (cls or "") + (subclass or "")
    if group:
        out += str(int(group))
        out += "/" + (subgroup if subgroup else "00")
    return out


def normalize_ipc_list(values: list[str] | str) -> list[str]:
    """Split a multi-valued IPC field (``;`` ``,`` or ``??`` separated) and normalise, in order."""
    if isinstance(values, str):
        values = re.split(r"[;；,，]|\?\?|\s{2,}", values)
    seen: dict[str, None] = {}
    for value in values:
        symbol = normalize_ipc(value) if value and value.strip() else None
        if symbol:
            seen.setdefault(symbol, None)
    return list(seen)


def matches_prefix(symbol: str, prefixes: list[str] | tuple[str, ...]) -> str | None:
    """The first prefix the normalised symbol starts with, or None."""
    for prefix in prefixes:
        if symbol.startswith(prefix):
            return prefix
    return None

"""Matched terms marked in crawled text: escaped HTML with <mark>, or a terminal's bold."""

from __future__ import annotations

import re
from collections.abc import Callable

from markupsafe import Markup, escape

from rules.query import fold_text

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def spans(text: str, terms: list[str]) -> list[tuple[str, bool]]:
    """``text`` cut into (segment, is a match) pieces; terms are folded like the rules fold."""
    folded = fold_text(text)
    wanted = sorted({t for t in terms if t}, key=len, reverse=True)
    if not wanted or len(folded) != len(text):
        return [(text, False)] if text else []
    pattern = re.compile("|".join(re.escape(t) for t in wanted))
    out: list[tuple[str, bool]] = []
    pos = 0
    for match in pattern.finditer(folded):
        if match.start() > pos:
            out.append((text[pos : match.start()], False))
        out.append((text[match.start() : match.end()], True))
        pos = match.end()
    if pos < len(text):
        out.append((text[pos:], False))
    return out


def highlight_html(text: str, terms: list[str]) -> Markup:
    """Escaped text with the matches in <mark> (safe to put in a template)."""
    return Markup("").join(
        Markup("<mark>{}</mark>").format(seg) if hit else escape(seg)
        for seg, hit in spans(text, terms)
    )


def highlight_terminal(text: str, terms: list[str], style: Callable[[str], str]) -> str:
    """Text with control characters removed and the matches passed through ``style``."""
    return "".join(
        style(_CONTROL.sub(" ", seg)) if hit else _CONTROL.sub(" ", seg)
        for seg, hit in spans(text, terms)
    )

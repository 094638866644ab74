"""Keyword expressions: ``硅钢 AND (取向 OR 无取向) AND NOT 设备``, with "quoted phrases".

Terms match as substrings of the width-folded, lower-cased text (Chinese has no word breaks).
Juxtaposed terms are AND-ed. :func:`necessary_terms` gives a set of terms one of which must
occur for the expression to hold: the matcher indexes rules by it instead of testing each rule.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from functools import cached_property

from warning.applicants import fold_width


def fold_text(text: str) -> str:
    """The form both keywords and document text are compared in."""
    return fold_width(text).lower()


class QuerySyntaxError(ValueError):
    """A malformed expression; the message says where."""


@dataclass(frozen=True)
class Term:
    text: str


@dataclass(frozen=True)
class Not:
    child: Node


@dataclass(frozen=True)
class And:
    children: tuple[Node, ...]


@dataclass(frozen=True)
class Or:
    children: tuple[Node, ...]

    @cached_property
    def flat_terms(self) -> tuple[str, ...] | None:
        """The terms when every child is a plain term (a keyword list): evaluated in one loop."""
        if all(isinstance(c, Term) for c in self.children):
            return tuple(c.text for c in self.children)  # type: ignore[union-attr]
        return None


Node = Term | Not | And | Or

_TOKEN = re.compile(r'\s*(?:(\()|(\))|"([^"]*)"|“([^”]*)”|([^\s()"“”]+))')
_OPERATORS = {"AND", "OR", "NOT"}


def _tokens(text: str) -> list[tuple[str, str, int]]:
    """(kind, text, 1-based character position) of each token: errors name where they are."""
    out: list[tuple[str, str, int]] = []
    pos = 0
    text = text.strip()
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if not match or match.end() == pos:
            raise QuerySyntaxError(f"unexpected {text[pos]!r} at character {pos + 1}")
        at = match.start(match.lastindex or 0) + 1
        pos = match.end()
        lpar, rpar, quoted, quoted_zh, word = match.groups()
        if lpar:
            out.append(("(", "(", at))
        elif rpar:
            out.append((")", ")", at))
        elif quoted is not None or quoted_zh is not None:
            phrase = quoted if quoted is not None else quoted_zh
            if not phrase.strip():
                raise QuerySyntaxError(f"empty quoted phrase at character {at - 1}")
            out.append(("term", phrase, at))
        elif word is not None and word.upper() in _OPERATORS and word.isupper():
            out.append((word.upper(), word, at))
        elif word is not None:
            out.append(("term", word, at))
    return out


class _Parser:
    def __init__(self, tokens: list[tuple[str, str, int]], length: int) -> None:
        self.tokens = tokens
        self.i = 0
        self.end = length + 1

    def peek(self) -> str | None:
        return self.tokens[self.i][0] if self.i < len(self.tokens) else None

    def where(self) -> str:
        at = self.tokens[self.i][2] if self.i < len(self.tokens) else self.end
        return f"at character {at}"

    def take(self) -> tuple[str, str, int]:
        token = self.tokens[self.i]
        self.i += 1
        return token

    def parse(self) -> Node:
        node = self.parse_or()
        if self.peek() is not None:
            raise QuerySyntaxError(
                f"unexpected {self.tokens[self.i][1]!r} {self.where()} (unbalanced parenthesis?)"
            )
        return node

    def parse_or(self) -> Node:
        parts = [self.parse_and()]
        while self.peek() == "OR":
            self.take()
            parts.append(self.parse_and())
        return parts[0] if len(parts) == 1 else Or(tuple(parts))

    def parse_and(self) -> Node:
        parts = [self.parse_not()]
        while self.peek() in ("AND", "NOT", "term", "("):
            if self.peek() == "AND":
                self.take()
            parts.append(self.parse_not())
        return parts[0] if len(parts) == 1 else And(tuple(parts))

    def parse_not(self) -> Node:
        if self.peek() == "NOT":
            self.take()
            return Not(self.parse_not())
        return self.parse_atom()

    def parse_atom(self) -> Node:
        kind = self.peek()
        if kind is None:
            raise QuerySyntaxError(f"expression ends where a term was expected ({self.where()})")
        if kind == "(":
            opened = self.where()
            self.take()
            node = self.parse_or()
            if self.peek() != ")":
                raise QuerySyntaxError(
                    f"missing closing parenthesis for the '(' {opened} (found "
                    f"{repr(self.tokens[self.i][1]) if self.peek() else 'the end'} {self.where()})"
                )
            self.take()
            return node
        if kind == "term":
            where = self.where()
            text = fold_text(self.take()[1])
            if not text:
                raise QuerySyntaxError(f"empty term {where}")
            return Term(text)
        raise QuerySyntaxError(
            f"unexpected {self.tokens[self.i][1]!r} {self.where()} where a term was expected"
        )


def parse_query(text: str | list[str]) -> Node:
    """Parse an expression; a list of keywords means "any of them"."""
    if isinstance(text, list):
        terms = [fold_text(t) for t in text if fold_text(t)]
        if not terms:
            raise QuerySyntaxError("empty keyword list")
        return Term(terms[0]) if len(terms) == 1 else Or(tuple(Term(t) for t in terms))
    if not text.strip():
        raise QuerySyntaxError("empty expression")
    return _Parser(_tokens(text), len(text.strip())).parse()


def evaluate(node: Node, text: str | AbstractSet[str], found: list[str] | None = None) -> bool:
    """True when ``node`` holds for folded ``text``; positive terms that matched go to ``found``.

    ``text`` may also be the set of every expression term known to occur in the text (found by
    one Aho-Corasick pass): membership then replaces substring search, with the same result.
    """
    if isinstance(node, Term):
        hit = node.text in text
        if hit and found is not None and node.text not in found:
            found.append(node.text)
        return hit
    if isinstance(node, Not):
        return not evaluate(node.child, text, None)
    if isinstance(node, And):
        return all(evaluate(child, text, found) for child in node.children)
    flat = node.flat_terms
    if flat is not None:
        hit = False
        for term in flat:
            if term in text:
                hit = True
                if found is not None and term not in found:
                    found.append(term)
        return hit
    hits = [evaluate(child, text, found) for child in node.children]  # all, to explain every term
    return any(hits)


def terms_of(node: Node) -> set[str]:
    """Every term in the expression (positive or negated)."""
    if isinstance(node, Term):
        return {node.text}
    if isinstance(node, Not):
        return terms_of(node.child)
    return set().union(*(terms_of(c) for c in node.children))


def necessary_terms(node: Node, cost: Callable[[str], float]) -> frozenset[str] | None:
    """A cheapest set of terms of which at least one occurs whenever ``node`` holds.

    None when no such set exists (e.g. a bare NOT). ``cost(term)`` estimates how often a
    term occurs; for AND we keep the child set with the lowest total cost.
    """
    if isinstance(node, Term):
        return frozenset({node.text})
    if isinstance(node, Not):
        return None
    if isinstance(node, Or):
        union: set[str] = set()
        for child in node.children:
            sub = necessary_terms(child, cost)
            if sub is None:
                return None
            union |= sub
        return frozenset(union)
    best: frozenset[str] | None = None
    for child in node.children:
        sub = necessary_terms(child, cost)
        if sub is not None and (best is None or sum(map(cost, sub)) < sum(map(cost, best))):
            best = sub
    return best

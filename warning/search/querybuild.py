"""A rules-syntax expression as an FTS5 MATCH expression and a PostgreSQL tsquery.

The rules' parser (:mod:`rules.query`) reads the query, so the syntax and the error messages
are the rules'. Each term is cut into words the way the index was (:func:`tokens.words`); a
term of several words is a phrase (its words adjacent, as the substring it is in the rules).
Full-text engines cannot answer "everything except": NOT needs a positive term beside it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from rules.query import Node, Not, Or, QuerySyntaxError, Term, parse_query
from warning.search.tokens import words


@dataclass
class CompiledQuery:
    node: Node
    fts5: str
    tsquery: str
    #: every phrase (tuple of tokens) in the order of the FTS5 expression: BM25 sums over them
    phrases: list[tuple[str, ...]] = field(default_factory=list)
    #: per phrase: False when it is under NOT (a matching document never holds it)
    positive: list[bool] = field(default_factory=list)


def _phrase(term: Term) -> tuple[str, ...]:
    tokens = tuple(words(term.text))
    if not tokens:
        raise QuerySyntaxError(f"term {term.text!r} has no letters or digits to search for")
    return tokens


class _Compiler:
    def __init__(self) -> None:
        self.phrases: list[tuple[str, ...]] = []
        self.positive: list[bool] = []
        self.negated = False

    def compile(self, node: Node) -> tuple[str, str]:
        if isinstance(node, Term):
            phrase = _phrase(node)
            self.phrases.append(phrase)
            self.positive.append(not self.negated)
            return '"' + " ".join(phrase) + '"', "(" + " <-> ".join(f"'{t}'" for t in phrase) + ")"
        if isinstance(node, Not):
            raise QuerySyntaxError(
                "NOT needs a positive term beside it (e.g. 硅钢 NOT 设备): "
                "a search cannot list everything except something"
            )
        if isinstance(node, Or):
            parts = [self.compile(child) for child in node.children]
            return (
                "(" + " OR ".join(p[0] for p in parts) + ")",
                "(" + " | ".join(p[1] for p in parts) + ")",
            )
        positive = [c for c in node.children if not isinstance(c, Not)]
        negative = [c.child for c in node.children if isinstance(c, Not)]
        if not positive:
            self.compile(Not(negative[0]))
        pos = [self.compile(child) for child in positive]
        self.negated = not self.negated
        neg = [self.compile(child) for child in negative]
        self.negated = not self.negated
        fts = "(" + " AND ".join(p[0] for p in pos) + "".join(f" NOT {n[0]}" for n in neg) + ")"
        tsq = "(" + " & ".join(p[1] for p in pos) + "".join(f" & !{n[1]}" for n in neg) + ")"
        return fts, tsq


def compile_query(text: str) -> CompiledQuery:
    """Parse and translate; raises :class:`QuerySyntaxError` with the parser's message."""
    node = parse_query(text)
    compiler = _Compiler()
    fts, tsq = compiler.compile(node)
    return CompiledQuery(
        node=node, fts5=fts, tsquery=tsq, phrases=compiler.phrases, positive=compiler.positive
    )


def any_of(tokens: list[str]) -> CompiledQuery:
    """An OR query of single tokens (screening's candidate retrieval)."""
    return compile_query(" OR ".join(f'"{t}"' for t in tokens))

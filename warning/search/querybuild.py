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
    #: per phrase: False when no matching document can hold it (excluded by a NOT on the
    #: chain of ANDs from the root); BM25 bounds leave those out
    positive: list[bool] = field(default_factory=list)


def _phrase(term: Term) -> tuple[str, ...]:
    tokens = tuple(words(term.text))
    if not tokens:
        raise QuerySyntaxError(f"term {term.text!r} has no letters or digits to search for")
    return tokens


def _terms_only(node: Node) -> bool:
    return isinstance(node, Term) or (
        isinstance(node, Or) and all(_terms_only(c) for c in node.children)
    )


class _Compiler:
    def __init__(self) -> None:
        self.phrases: list[tuple[str, ...]] = []
        self.positive: list[bool] = []
        #: on the chain of ANDs from the root: what is excluded here is absent from every match
        self.required = True
        #: inside such an excluded term or OR of terms
        self.absent = False

    def compile(self, node: Node) -> tuple[str, str]:
        if isinstance(node, Term):
            phrase = _phrase(node)
            self.phrases.append(phrase)
            self.positive.append(not self.absent)
            return '"' + " ".join(phrase) + '"', "(" + " <-> ".join(f"'{t}'" for t in phrase) + ")"
        if isinstance(node, Not):
            raise QuerySyntaxError(
                "NOT needs a positive term beside it (e.g. 硅钢 NOT 设备): "
                "a search cannot list everything except something"
            )
        if isinstance(node, Or):
            # a match may satisfy another branch: what a branch excludes can be in it
            required, self.required = self.required, False
            parts = [self.compile(child) for child in node.children]
            self.required = required
            return (
                "(" + " OR ".join(p[0] for p in parts) + ")",
                "(" + " | ".join(p[1] for p in parts) + ")",
            )
        positive = [c for c in node.children if not isinstance(c, Not)]
        negative = [c.child for c in node.children if isinstance(c, Not)]
        if not positive:
            self.compile(Not(negative[0]))
        pos = [self.compile(child) for child in positive]
        neg = []
        for child in negative:
            # "a NOT (b OR c)" keeps b and c out of every match; "a NOT (b c)" only their pair
            absent = self.required and _terms_only(child)
            saved = self.required, self.absent
            self.required, self.absent = False, self.absent or absent
            neg.append(self.compile(child))
            self.required, self.absent = saved
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

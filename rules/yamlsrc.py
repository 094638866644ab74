"""YAML loading that remembers where every value came from, for ``FILE:LINE`` problems.

PyYAML's composer keeps a start mark on every node; we build plain Python data from the node
tree and a map from field path (tuple of keys and list indexes) to 1-based line number.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from warning.errors import InputError, Problem
from warning.text import UNSTORABLE_MESSAGE, strings_in, unstorable

PathKey = tuple[str | int, ...]


@dataclass
class Located:
    """Data parsed from one YAML document plus the line of every field path in it."""

    data: Any
    file: str
    lines: dict[PathKey, int] = field(default_factory=dict)

    def line_of(self, path: PathKey) -> int | None:
        """The line of ``path`` or, when it is absent (a missing key), of its nearest parent."""
        probe = tuple(path)
        while probe:
            if probe in self.lines:
                return self.lines[probe]
            probe = probe[:-1]
        return self.lines.get(())


def field_path(path: PathKey) -> str:
    """``("enterprises", 0, "name")`` -> ``enterprises[0].name``."""
    return ".".join(str(p) if not isinstance(p, int) else f"[{p}]" for p in path).replace(".[", "[")


def _build(node: yaml.Node, path: PathKey, lines: dict[PathKey, int]) -> Any:
    lines[path] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        out: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            key = (
                yaml.safe_load(yaml.serialize(key_node))
                if not isinstance(key_node, yaml.ScalarNode)
                else _scalar(key_node)
            )
            sub = (*path, str(key))
            out[key] = _build(value_node, sub, lines)
            lines[sub] = key_node.start_mark.line + 1
        return out
    if isinstance(node, yaml.SequenceNode):
        return [_build(item, (*path, i), lines) for i, item in enumerate(node.value)]
    return _scalar(node)


def _scalar(node: yaml.Node) -> Any:
    """Resolve one scalar with the safe constructor (ints, floats, bools, dates, null)."""
    constructor = yaml.SafeLoader("")
    try:
        return constructor.construct_object(node, deep=True)
    finally:
        constructor.dispose()


def load_located(path: Path, text: str | None = None) -> list[Located]:
    """Every YAML document in ``path``; raise :class:`InputError` with the line on a syntax error."""
    if text is None:
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError as exc:
            raise InputError([Problem("file not found", file=str(path))]) from exc
        except UnicodeDecodeError as exc:
            raise InputError([Problem(f"not UTF-8 text: {exc}", file=str(path))]) from exc
    try:
        nodes = list(yaml.compose_all(text, Loader=yaml.SafeLoader))
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else None
        raise InputError(
            [Problem(f"not valid YAML: {exc.problem or exc}", file=str(path), line=line)]
        ) from exc
    docs = []
    for node in nodes:
        if node is None:
            continue
        lines: dict[PathKey, int] = {}
        data = _build(node, (), lines)
        docs.append(Located(data=data, file=str(path), lines=lines))
    problems = [
        Problem(UNSTORABLE_MESSAGE, file=doc.file, line=doc.line_of(p), field=field_path(p))
        for doc in docs
        for p, value in strings_in(doc.data)
        if unstorable(value)
    ]
    if problems:
        raise InputError(problems)
    return docs

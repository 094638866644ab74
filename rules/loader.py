"""Reading rule and subscription files into validated specs, or located problems.

A rule file holds one rule, several YAML documents (``---``) or a list of rules. Every problem
in every file is collected before anything is reported, so one `ipwarn rules check` run lists
all of them.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from rules.spec import RuleSpec, SubscriptionFile, problems_from
from rules.yamlsrc import Located, load_located
from warning.errors import InputError, Problem

RULE_SUFFIXES = (".yaml", ".yml")


@dataclass(frozen=True)
class LoadedRule:
    spec: RuleSpec
    file: str
    line: int | None

    @property
    def definition(self) -> dict[str, object]:
        """The stored form: validated, defaults filled in, JSON-ready."""
        return self.spec.model_dump(mode="json", exclude_none=True)

    @property
    def checksum(self) -> str:
        """Identity of a version's content; ``status`` is excluded (it changes by command)."""
        data = {k: v for k, v in self.definition.items() if k != "status"}
        return hashlib.sha256(
            json.dumps(data, sort_keys=True, ensure_ascii=False).encode()
        ).hexdigest()


def packaged_library() -> Path:
    return Path(str(resources.files("rules").joinpath("library")))


def rule_files(paths: list[Path]) -> list[Path]:
    """Expand directories to the YAML files in them (sorted); files are taken as given."""
    out: list[Path] = []
    for path in paths:
        if path.is_dir():
            out.extend(
                sorted(p for p in path.rglob("*") if p.suffix in RULE_SUFFIXES and p.is_file())
            )
        else:
            out.append(path)
    return out


def _rule_nodes(doc: Located) -> list[tuple[object, tuple[str | int, ...]]]:
    if isinstance(doc.data, list):
        return [(item, (i,)) for i, item in enumerate(doc.data)]
    return [(doc.data, ())]


def load_rules(paths: list[Path]) -> tuple[list[LoadedRule], list[Problem]]:
    """Every valid rule and every problem found in ``paths``."""
    loaded: list[LoadedRule] = []
    problems: list[Problem] = []
    files = rule_files(paths)
    if not files:
        problems.append(Problem("no rule files (*.yaml) found", file=", ".join(map(str, paths))))
    for file in files:
        try:
            docs = load_located(file)
        except InputError as exc:
            problems.extend(exc.problems)
            continue
        _collect(docs, str(file), loaded, problems)
    _check_versions(loaded, problems)
    return loaded, problems


def _collect(
    docs: list[Located], file: str, loaded: list[LoadedRule], problems: list[Problem]
) -> None:
    for doc in docs:
        for data, base in _rule_nodes(doc):
            line = doc.line_of(base)
            if not isinstance(data, dict):
                problems.append(
                    Problem(
                        "a rule must be a mapping (id, version, title, ...)",
                        file=doc.file,
                        line=line,
                    )
                )
                continue
            try:
                spec = RuleSpec.model_validate(data)
            except ValidationError as exc:
                problems.extend(problems_from(exc, doc, RuleSpec, base))
                continue
            loaded.append(LoadedRule(spec=spec, file=file, line=line))


def _check_versions(loaded: list[LoadedRule], problems: list[Problem]) -> None:
    seen: dict[tuple[str, int], LoadedRule] = {}
    for rule in loaded:
        key = (rule.spec.id, rule.spec.version)
        if key in seen and seen[key].checksum != rule.checksum:
            first = seen[key]
            problems.append(
                Problem(
                    f"rule {key[0]} version {key[1]} is also defined differently at {first.file}:{first.line}; "
                    "give one of them a new version",
                    file=rule.file,
                    line=rule.line,
                    field="version",
                )
            )
        seen.setdefault(key, rule)
    problems.sort(key=lambda p: (p.file or "", p.line or 0))


def load_rules_text(text: str, name: str) -> tuple[list[LoadedRule], list[Problem]]:
    """Like :func:`load_rules` for YAML typed in the console; problems name ``name``."""
    loaded: list[LoadedRule] = []
    problems: list[Problem] = []
    try:
        docs = load_located(Path(name), text)
    except InputError as exc:
        return [], list(exc.problems)
    _collect(docs, name, loaded, problems)
    if not loaded and not problems:
        problems.append(Problem("no rule in the text", file=name, line=1))
    _check_versions(loaded, problems)
    return loaded, problems


def load_rules_or_raise(paths: list[Path]) -> list[LoadedRule]:
    loaded, problems = load_rules(paths)
    if problems:
        raise InputError(problems, hint="Fix the rule files (see `ipwarn rules check`).")
    return loaded


def load_subscription_file(path: Path) -> SubscriptionFile:
    """A validated subscriptions file, or :class:`InputError` listing every located problem."""
    docs = load_located(path)
    if len(docs) != 1 or not isinstance(docs[0].data, dict):
        raise InputError(
            [
                Problem(
                    "expected one YAML mapping with an 'enterprises' list",
                    file=str(path),
                    line=docs[0].line_of(()) if docs else None,
                )
            ]
        )
    doc = docs[0]
    problems = _duplicate_ids(doc, path)
    try:
        parsed = SubscriptionFile.model_validate(doc.data)
    except ValidationError as exc:
        problems += problems_from(exc, doc, SubscriptionFile)
    if problems:
        problems.sort(key=lambda p: p.line or 0)
        raise InputError(problems, hint="Nothing was imported.")
    return parsed


def _duplicate_ids(doc: Located, path: Path) -> list[Problem]:
    """Each repeated enterprise id, at its line, found before (and reported with) schema errors."""
    entries = doc.data.get("enterprises") if isinstance(doc.data, dict) else None
    if not isinstance(entries, list):
        return []
    first: dict[str, int] = {}
    problems = []
    for i, entry in enumerate(entries):
        if not isinstance(entry, dict):
            continue
        problems += _duplicate_names(doc, path, i, entry)
        ident = entry.get("id")
        if not isinstance(ident, str):
            continue
        if ident in first:
            problems.append(
                Problem(
                    f"enterprise id {ident!r} appears more than once (first at line "
                    f"{doc.line_of(('enterprises', first[ident], 'id'))})",
                    file=str(path),
                    line=doc.line_of(("enterprises", i, "id")),
                    field=f"enterprises[{i}].id",
                )
            )
        else:
            first[ident] = i
    return problems


def repeated_name(name: str, first: str) -> str:
    """The message for a subscription name an enterprise already has (file import, console)."""
    return f"subscription name {name!r} appears more than once in this enterprise ({first})"


def _duplicate_names(doc: Located, path: Path, index: int, entry: dict[str, Any]) -> list[Problem]:
    """A subscription name given twice in one enterprise, at the second one's line."""
    subs = entry.get("subscriptions")
    if not isinstance(subs, list):
        return []
    seen: dict[str, int] = {}
    problems = []
    for j, sub in enumerate(subs):
        name = sub.get("name", "default") if isinstance(sub, dict) else None
        if not isinstance(name, str):
            continue
        if name in seen:
            where = ("enterprises", index, "subscriptions", j)
            problems.append(
                Problem(
                    repeated_name(
                        name,
                        f"first at line {doc.line_of(('enterprises', index, 'subscriptions', seen[name]))}",
                    ),
                    file=str(path),
                    line=doc.line_of((*where, "name")),
                    field=f"enterprises[{index}].subscriptions[{j}].name",
                )
            )
        else:
            seen[name] = j
    return problems

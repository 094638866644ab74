"""The indicator targets file: validated, with ``FILE:LINE: field: message`` problems."""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from rules.spec import did_you_mean, problems_from
from rules.yamlsrc import load_located
from warning.errors import ConfigError, InputError, Problem

Measure = Literal[
    "applications_growth",
    "grants_growth",
    "invention_applications_growth",
    "invention_grants_growth",
    "enterprise_share",
    "invention_share",
    "service_invention_share",
]


class Target(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(min_length=1, max_length=80)
    label: str = Field(min_length=1)
    measure: Measure
    min: float | None = None
    max: float | None = None
    by: int | None = Field(default=None, ge=2000, le=2100)

    @model_validator(mode="after")
    def _has_bound(self) -> Target:
        if self.min is None and self.max is None:
            raise ValueError("give min, max or both")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError("min must not exceed max")
        return self

    def met(self, value: float | None) -> bool | None:
        if value is None:
            return None
        return (self.min is None or value >= self.min) and (self.max is None or value <= self.max)


class TargetsFile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    version: int = 1
    targets: list[Target] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique_ids(self) -> TargetsFile:
        ids = [t.id for t in self.targets]
        duplicates = sorted({i for i in ids if ids.count(i) > 1})
        if duplicates:
            raise ValueError(f"duplicate target ids: {', '.join(duplicates)}")
        return self


def default_targets_path() -> Path:
    return Path(str(resources.files("warning.indicators").joinpath("targets.yaml")))


def load_targets(path: Path | None = None) -> TargetsFile:
    """Read and validate a targets file (default: the packaged one)."""
    source = path or default_targets_path()
    try:
        docs = load_located(source)
    except InputError as exc:
        raise ConfigError(exc.problems, hint="Fix indicator_targets_file.") from exc
    if len(docs) != 1 or not isinstance(docs[0].data, dict):
        raise ConfigError([Problem("must be one YAML mapping with 'targets'", file=str(source))])
    try:
        return TargetsFile.model_validate(docs[0].data)
    except ValidationError as exc:
        raise ConfigError(
            [_target_keys(p) for p in problems_from(exc, docs[0], TargetsFile)],
            hint="Fix indicator_targets_file.",
        ) from exc


def _target_keys(problem: Problem) -> Problem:
    """Unknown keys inside a target are checked against the target's keys, not the file's."""
    if problem.field and problem.field.startswith("targets[") and "unknown key" in problem.message:
        name = problem.field.rsplit(".", 1)[-1]
        known = list(Target.model_fields)
        return Problem(
            f"unknown key{did_you_mean(name, known) or '; known keys: ' + ', '.join(known)}",
            file=problem.file,
            line=problem.line,
            field=problem.field,
        )
    return problem

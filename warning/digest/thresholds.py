"""Warning-level thresholds: loading the expert-tunable YAML and grading indicator values.

Levels are critical (红), high (橙), medium (黄) and low (蓝). An indicator reaches a level when
its value is at or above that level's threshold; a sector takes the highest level any of its
indicators reaches, and the indicators that reached it are its "drivers".
"""

from __future__ import annotations

import hashlib
import itertools
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from warning.errors import ConfigError, Problem

#: weeks of history before the digest week (trailing mean, trend charts)
HISTORY_WEEKS = 12

LEVELS: tuple[str, ...] = ("critical", "high", "medium", "low")
GRADED_LEVELS: tuple[str, ...] = ("critical", "high", "medium")
LEVEL_ZH: dict[str, str] = {"critical": "红", "high": "橙", "medium": "黄", "low": "蓝"}
LEVEL_COLOUR: dict[str, str] = {
    "critical": "#d7301f",
    "high": "#fc8d59",
    "medium": "#f2c500",
    "low": "#3b7dd8",
}
#: indicators the digest computes; the YAML may grade any subset of them
KNOWN_INDICATORS: tuple[str, ...] = (
    "filings_vs_mean",
    "foreign_share",
    "foreign_share_change",
    "cr4",
    "critical_alerts",
    "high_alerts",
    "invalidations",
    "transfers_out",
)
#: indicators that are shares or ratios, skipped below ``min_documents``
RATIO_INDICATORS: frozenset[str] = frozenset(
    {"filings_vs_mean", "foreign_share", "foreign_share_change", "cr4"}
)
#: indicators measured against the 12 weeks before, not graded without a sufficient baseline
BASELINE_INDICATORS: frozenset[str] = frozenset({"filings_vs_mean", "foreign_share_change"})
#: what the digest says instead of grading a baseline indicator
NO_BASELINE_ZH = "基线不足，不评级"
UNITS = ("ratio", "share", "points", "count")


@dataclass(frozen=True)
class IndicatorThreshold:
    name: str
    label: str
    unit: str
    #: level -> threshold (only the levels the file gives)
    levels: dict[str, float]
    description: str = ""

    def grade(self, value: float | None) -> str | None:
        """The highest level ``value`` reaches (value >= threshold), or None."""
        if value is None:
            return None
        for level in GRADED_LEVELS:
            threshold = self.levels.get(level)
            if threshold is not None and value >= threshold:
                return level
        return None


@dataclass(frozen=True)
class Baseline:
    """The least history a trailing comparison needs before it may set a level."""

    #: weeks holding data among the 12 before the digest week
    min_weeks: int = 4
    #: the sector's documents in those weeks
    min_documents: int = 20

    def sufficient(self, weeks: int, documents: int) -> bool:
        return weeks >= self.min_weeks and documents >= self.min_documents


@dataclass(frozen=True)
class Thresholds:
    version: int
    min_documents: int
    indicators: dict[str, IndicatorThreshold]
    source: str
    raw: dict[str, Any] = field(default_factory=dict)
    baseline: Baseline = field(default_factory=Baseline)

    @property
    def fingerprint(self) -> str:
        """Hash of the effective thresholds: part of the digest's input hash."""
        canonical = json.dumps(self.raw, sort_keys=True, ensure_ascii=False, default=str)
        return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Driver:
    indicator: str
    label: str
    unit: str
    value: float
    threshold: float
    level: str


@dataclass(frozen=True)
class Grade:
    level: str
    #: every indicator that reached a level, highest first (the first ones set ``level``)
    drivers: list[Driver]
    #: indicators skipped for lack of data (sector has fewer than ``min_documents``)
    insufficient: list[str]
    #: baseline indicators skipped because the 12 weeks before hold too little (基线不足)
    no_baseline: list[str] = field(default_factory=list)


def default_thresholds_path() -> Path:
    return Path(str(resources.files("warning.digest").joinpath("thresholds.yaml")))


def load_thresholds(path: Path | None = None) -> Thresholds:
    """Read and validate a thresholds file (default: the packaged one)."""
    source = path or default_thresholds_path()
    try:
        text = source.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(
            [Problem(f"cannot read thresholds file: {exc.strerror}", file=str(source))],
            hint="Set digest_thresholds_file to an existing YAML file, or unset it.",
        ) from exc
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        raise ConfigError([Problem(f"not valid YAML: {exc}", file=str(source), line=line)]) from exc
    return parse_thresholds(data, str(source))


def parse_thresholds(data: Any, source: str = "<thresholds>") -> Thresholds:
    problems: list[Problem] = []

    def bad(field_path: str, message: str) -> None:
        problems.append(Problem(message, file=source, field=field_path))

    if not isinstance(data, dict):
        raise ConfigError([Problem("must be a mapping with 'indicators'", file=source)])
    for key in data:
        if key not in ("version", "min_documents", "baseline", "indicators"):
            bad(str(key), "unknown key; expected version, min_documents, baseline, indicators")
    version = data.get("version", 1)
    if not isinstance(version, int):
        bad("version", "must be an integer")
        version = 1
    min_documents = data.get("min_documents", 5)
    if not isinstance(min_documents, int) or isinstance(min_documents, bool) or min_documents < 0:
        bad("min_documents", "must be a whole number >= 0")
        min_documents = 5
    baseline = _parse_baseline(data.get("baseline"), bad)
    raw_indicators = data.get("indicators")
    indicators: dict[str, IndicatorThreshold] = {}
    if not isinstance(raw_indicators, dict) or not raw_indicators:
        bad("indicators", "must map indicator names to thresholds")
        raw_indicators = {}
    for name, spec in raw_indicators.items():
        where = f"indicators.{name}"
        if name not in KNOWN_INDICATORS:
            bad(where, f"unknown indicator; known: {', '.join(KNOWN_INDICATORS)}")
            continue
        if not isinstance(spec, dict):
            bad(where, "must be a mapping with label and level thresholds")
            continue
        levels: dict[str, float] = {}
        for key, value in spec.items():
            if key in ("label", "description", "unit"):
                continue
            if key not in GRADED_LEVELS:
                bad(f"{where}.{key}", "unknown key; levels are critical, high, medium")
            elif isinstance(value, bool) or not isinstance(value, int | float):
                bad(f"{where}.{key}", f"must be a number, got {value!r}")
            else:
                levels[key] = float(value)
        if not levels:
            bad(where, "gives no threshold for critical, high or medium")
        ordered = [levels[lv] for lv in GRADED_LEVELS if lv in levels]
        if any(a < b for a, b in itertools.pairwise(ordered)):
            bad(where, "thresholds must not rise from critical to high to medium")
        unit = str(spec.get("unit", "count"))
        if unit not in UNITS:
            bad(f"{where}.unit", f"must be one of {', '.join(UNITS)}")
        indicators[name] = IndicatorThreshold(
            name=name,
            label=str(spec.get("label", name)),
            unit=unit,
            levels=levels,
            description=str(spec.get("description", "")),
        )
    if problems:
        raise ConfigError(problems, hint="Fix the digest thresholds file.")
    return Thresholds(version, min_documents, indicators, source, raw=data, baseline=baseline)


def _parse_baseline(raw: Any, bad: Callable[[str, str], None]) -> Baseline:
    if raw is None:
        return Baseline()
    if not isinstance(raw, dict):
        bad("baseline", "must be a mapping with min_weeks and min_documents")
        return Baseline()
    values: dict[str, int] = {}
    for key, value in raw.items():
        if key not in ("min_weeks", "min_documents"):
            bad(f"baseline.{key}", "unknown key; expected min_weeks, min_documents")
        elif isinstance(value, bool) or not isinstance(value, int) or value < 0:
            bad(f"baseline.{key}", f"must be a whole number >= 0, got {value!r}")
        else:
            values[key] = value
    if values.get("min_weeks", 0) > HISTORY_WEEKS:
        bad("baseline.min_weeks", f"must be at most {HISTORY_WEEKS} (the weeks of history)")
        values.pop("min_weeks")
    return Baseline(**values)


def grade_sector(
    thresholds: Thresholds,
    values: dict[str, float | None],
    documents: int,
    *,
    baseline_ok: dict[str, bool] | None = None,
) -> Grade:
    """The level of one sector from its indicator values, with the indicators that drove it.

    ``baseline_ok`` says, per baseline indicator, whether its history is sufficient; a missing
    entry counts as sufficient (callers that have no history to judge grade as before).
    """
    reached: list[Driver] = []
    insufficient: list[str] = []
    no_baseline: list[str] = []
    for name, spec in thresholds.indicators.items():
        value = values.get(name)
        if name in RATIO_INDICATORS and documents < thresholds.min_documents:
            insufficient.append(name)
            continue
        if name in BASELINE_INDICATORS and not (baseline_ok or {}).get(name, True):
            no_baseline.append(name)
            continue
        level = spec.grade(value)
        if level is not None and value is not None:
            reached.append(Driver(name, spec.label, spec.unit, value, spec.levels[level], level))
    if not reached:
        return Grade("low", [], insufficient, no_baseline)
    reached.sort(key=lambda d: LEVELS.index(d.level))  # stable: file order within a level
    return Grade(reached[0].level, reached, insufficient, no_baseline)

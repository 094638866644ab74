"""Model versions: which exist (configured ``model_dir`` and the packaged ones), which is active.

The active version lives in the ``app_state`` row ``classifier.active_version`` so every process
(pipeline, CLI, scheduler) agrees; without that row the packaged default is active.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from models.artifact import DEFAULT_VERSION, MODEL_FILE, read_metadata
from models.classifier import artifact_dirs, find_version
from warning.store.models import AppState, utcnow

ACTIVE_KEY = "classifier.active_version"


@dataclass(frozen=True)
class VersionInfo:
    version: str
    folder: Path
    metadata: dict[str, Any]


def list_versions(settings: Any = None) -> list[VersionInfo]:
    """Every artifact folder, configured directory first; a version in both is listed once."""
    seen: dict[str, VersionInfo] = {}
    for directory in artifact_dirs(settings):
        if not directory.is_dir():
            continue
        for folder in sorted(directory.iterdir()):
            if (folder / MODEL_FILE).exists() and folder.name not in seen:
                seen[folder.name] = VersionInfo(folder.name, folder, read_metadata(folder))
    return list(seen.values())


def active_version(session: Session) -> str:
    """The version the classify stage tags with (and rules should read tags of)."""
    row = session.get(AppState, ACTIVE_KEY)
    if row is None or not row.value.get("version"):
        return DEFAULT_VERSION
    return str(row.value["version"])


def set_active_version(session: Session, version: str, settings: Any = None) -> Path:
    """Make ``version`` active (it must exist); the next classify stages re-tag in batches."""
    folder = find_version(version, settings)
    row = session.get(AppState, ACTIVE_KEY)
    value = {"version": version, "folder": str(folder)}
    if row is None:
        session.add(AppState(key=ACTIVE_KEY, value=value, updated_at=utcnow()))
    else:
        row.value = value
        row.updated_at = utcnow()
    return folder

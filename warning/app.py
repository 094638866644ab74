"""The application object handed to CLI commands and scheduled jobs: settings plus a lazy store."""

from __future__ import annotations

from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

from warning.config import Settings, load_settings

if TYPE_CHECKING:
    from warning.store.engine import Store


class App:
    def __init__(self, config: str | Path | None = None, settings: Settings | None = None) -> None:
        self._config = config
        self._settings = settings

    @cached_property
    def settings(self) -> Settings:
        return self._settings or load_settings(self._config)

    @cached_property
    def store(self) -> Store:
        # imported here: SQLAlchemy costs ~0.3 s of start-up that `classify`/`parse` never need
        from warning.store.engine import Store

        self.settings.data_dir.mkdir(parents=True, exist_ok=True)
        return Store.from_settings(self.settings)

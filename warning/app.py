"""The application object handed to CLI commands and scheduled jobs: settings plus a lazy store."""

from __future__ import annotations

import os
from functools import cached_property
from pathlib import Path

from warning.config import Settings, load_settings
from warning.errors import StoreError
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
        data_dir = self.settings.data_dir
        try:
            data_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(
                f"cannot create the data directory {data_dir}: {exc.strerror or exc}; make it "
                "writable by this user or set data_dir (IPWARN_DATA_DIR) to a writable directory"
            ) from exc
        if not os.access(data_dir, os.W_OK):
            raise StoreError(
                f"permission denied on the data directory {data_dir}: it is not writable by "
                "this user; fix its permissions or set data_dir (IPWARN_DATA_DIR)"
            )
        return Store.from_settings(self.settings)

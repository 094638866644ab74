"""The application object handed to CLI commands and scheduled jobs: settings plus a lazy store.

Every command that touches the database goes through :attr:`App.store`, so one rule holds for
all of them: the data directory must be writable (else a :class:`ConfigError` naming it), the
embedded SQLite database migrates itself, and a PostgreSQL database behind the code is refused
with "run `ipwarn db upgrade`" (a :class:`StoreError`, exit 3); `running` rows left by killed
processes are closed as `abandoned`. `ipwarn db` alone uses :attr:`App.raw_store`, the database
as it is.
"""

from __future__ import annotations

from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

from warning.config import Settings, load_settings
from warning.errors import ConfigError, Problem

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
    def config_file(self) -> Path | None:
        """The config file the settings were loaded from (None: defaults and environment)."""
        from warning.config import resolve_config_path

        return None if self._settings is not None else resolve_config_path(self._config)

    @cached_property
    def raw_store(self) -> Store:
        """The reachable database, whatever its schema (for `ipwarn db upgrade|current`)."""
        # imported here: SQLAlchemy costs ~0.3 s of start-up that `classify`/`parse` never need
        from warning.store.engine import Store

        prepare_data_dir(self.settings.data_dir)
        store = Store.from_settings(self.settings)
        store.check()
        return store

    @cached_property
    def store(self) -> Store:
        """The database at the code's schema: SQLite is migrated, PostgreSQL must be."""
        from warning.abandoned import close_abandoned
        from warning.store import migrate

        store = self.raw_store
        migrate.ensure_current(store.engine)
        close_abandoned(store, self.settings)
        return store


def prepare_data_dir(path: Path) -> None:
    """Create ``data_dir`` if needed; refuse one that cannot be created or written."""
    import os

    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise ConfigError(
            [Problem(f"cannot create the data directory {path}: {reason}", field="data_dir")],
            hint="Set data_dir (IPWARN_DATA_DIR) to a directory ipwarn may create and write.",
        ) from exc
    if not path.is_dir() or not os.access(path, os.W_OK | os.X_OK):
        raise ConfigError(
            [Problem(f"the data directory {path} is not a writable directory", field="data_dir")],
            hint="Set data_dir (IPWARN_DATA_DIR) to a directory ipwarn may create and write.",
        )

"""Structured logging: one line per event, ``key=value`` (default) or JSON, via structlog.

Library loggers (Scrapy, APScheduler, SQLAlchemy) go through the same renderer.
"""

from __future__ import annotations

import logging
import sys
from typing import Any

import structlog

_configured = False


_SHARED: list[Any] = [
    structlog.contextvars.merge_contextvars,
    structlog.stdlib.add_log_level,
    structlog.stdlib.add_logger_name,
    structlog.processors.TimeStamper(fmt="iso", utc=True),
]


def _route_to_stdlib() -> None:
    """structlog events always become stdlib log records (library use, tests, before set-up)."""
    structlog.configure(
        processors=[*_SHARED, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )


_route_to_stdlib()


def configure_logging(level: str = "INFO", fmt: str = "kv", stream: Any = None) -> None:
    """Render every log record (ours and the libraries') as one key=value or JSON line."""
    global _configured
    shared = _SHARED
    renderer: Any = (
        structlog.processors.JSONRenderer(ensure_ascii=False)
        if fmt == "json"
        else structlog.processors.LogfmtRenderer(
            key_order=["timestamp", "level", "logger", "event"]
        )
    )
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=shared,
            processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, renderer],
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for noisy in (
        "apscheduler.executors.default",
        "alembic.runtime.migration",
        "alembic.runtime.plugins",  # alembic >= 1.17: a line per plugin at every schema check
        "fontTools",
    ):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, logging.getLevelName(level)))
    _configured = True


def get_logger(name: str) -> Any:
    return structlog.stdlib.get_logger(name)

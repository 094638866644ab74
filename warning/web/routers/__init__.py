"""Every module in this package is a part of the console: it exposes ``router`` (an
``fastapi.APIRouter``) and may expose ``NAV`` (menu entries). ``create_app`` includes them all,
in module-name order, so a branch adds a page by adding a module here and nothing else.
"""

from __future__ import annotations

import importlib
import pkgutil
from dataclasses import dataclass
from types import ModuleType
from typing import Any


@dataclass(frozen=True)
class NavItem:
    """A menu entry shown to callers holding ``permission``; lower ``order`` comes first."""

    label: str
    path: str
    permission: str
    order: int = 50


def modules() -> list[ModuleType]:
    """The router modules of this package, sorted by name."""
    names = sorted(m.name for m in pkgutil.iter_modules(__path__) if not m.name.startswith("_"))
    return [importlib.import_module(f"{__name__}.{name}") for name in names]


def api_routes() -> list[Any]:
    """Every ``APIRoute`` of every router module (for tests and the route listing)."""
    from fastapi.routing import APIRoute

    return [r for m in modules() for r in m.router.routes if isinstance(r, APIRoute)]

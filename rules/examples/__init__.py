"""Example input shipped with the package (the demo imports the subscriptions)."""

from __future__ import annotations

from importlib import resources
from pathlib import Path


def example_subscriptions_path() -> Path:
    """Four Anshan/Liaoning enterprises: steel, mining machinery, magnesia refractories, optoelectronics."""
    return Path(str(resources.files("rules").joinpath("examples/subscriptions.yaml")))

"""Demo bulletins shipped with the package (built from real data; see ORIGIN.md).

Point the ``inbox`` source at :func:`sample_dir` to run the real crawl stage with no server.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path


def sample_dir() -> Path:
    """The directory holding the sample bulletins (a real directory: the package is not zipped)."""
    return Path(str(resources.files("crawlers.samples")))

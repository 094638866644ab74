"""The CJK font used by charts and the PDF, installed from PyPI with the project.

Noto Sans CJK (SIL Open Font License 1.1) comes from the ``noto-cjk-sans-jp-regular`` package,
a static Regular-weight OpenType font. The "JP" build contains every CJK Unified Ideograph of the
SC build (simplified forms such as 钢, 铁, 轧 have their own code points); only a few shared
code points show Japanese glyph shapes. It needs no system font and no download at run time.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

from warning.errors import ConfigError, Problem

FONT_PACKAGE = "noto-cjk-sans-jp-regular"


@cache
def cjk_font_path() -> Path:
    """Path of the CJK font file, or a :class:`ConfigError` telling how to install it."""
    try:
        import noto_cjk_sans_jp_regular as font_pkg
    except ImportError as exc:
        raise ConfigError(
            [Problem(f"the CJK font package {FONT_PACKAGE} is not installed", field="digest")],
            hint=f"Install the project's dependencies (pip install -e .), or pip install {FONT_PACKAGE}.",
        ) from exc
    path = Path(str(font_pkg.FONT_PATH))
    if not path.is_file():
        raise ConfigError(
            [Problem(f"font file missing: {path}", field="digest")],
            hint=f"Reinstall {FONT_PACKAGE}.",
        )
    return path


@cache
def matplotlib_family() -> str:
    """Register the CJK font with matplotlib once and return its family name."""
    from matplotlib import font_manager

    path = cjk_font_path()
    font_manager.fontManager.addfont(str(path))
    return str(font_manager.FontProperties(fname=str(path)).get_name())

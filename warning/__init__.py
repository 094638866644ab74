"""ipwarn: intellectual-property early warning for a city's key industries.

The small public API (like httpx's) is re-exported here; everything else is internal.
"""

from warning.config import Settings, SourceConfig, load_settings
from warning.errors import (
    ConfigError,
    DeliveryError,
    InputError,
    IpwarnError,
    ModelNotFound,
    ParseError,
    Problem,
    ProblemsError,
    StageNotBuilt,
    StoreError,
)
from warning.records import DocumentRecord, LegalEventRecord

__all__ = [
    "ConfigError",
    "DeliveryError",
    "DocumentRecord",
    "InputError",
    "IpwarnError",
    "LegalEventRecord",
    "ModelNotFound",
    "ParseError",
    "Problem",
    "ProblemsError",
    "Settings",
    "SourceConfig",
    "StageNotBuilt",
    "StoreError",
    "load_settings",
]

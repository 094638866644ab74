"""The stable Python API other areas use (rules back-test, digest): plain dicts in and out."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from models.classifier import load_classifier


def classify_documents(
    docs: Iterable[Mapping[str, Any] | Any],
    *,
    text_only: bool = False,
    settings: Any = None,
    version: str | None = None,
) -> list[dict[str, Any]]:
    """Classify documents (dicts, ``DocumentRecord`` or stored ``Document`` objects), in order.

    Each result is ``{"number", "sectors", "scores", "subfields": [{sector, subfield, score}],
    "explanation", "model_version"}`` -- the same object `ipwarn classify` prints per line.
    ``version`` defaults to the packaged default; pass the active one
    (:func:`models.registry.active_version`) to agree with the stored tags.
    """
    model = load_classifier(settings, version=version)
    return [c.to_dict() for c in model.classify(list(docs), text_only=text_only)]

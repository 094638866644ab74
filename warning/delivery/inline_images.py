"""Images embedded as ``data:`` URIs turned into ``cid:`` parts that mail clients show.

The weekly digest HTML is one self-contained file (charts as ``data:image/png;base64`` URIs)
so that it opens in a browser as is; Gmail and Outlook block ``data:`` images in mail. For
mail each embedded image becomes an inline part of a ``multipart/related`` body and the
``<img>`` points at it with ``cid:``. Content-IDs are derived from the image bytes, so a
re-sent message (same Message-ID after a crash) is the same message.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from dataclasses import dataclass
from email.message import EmailMessage

#: ``<img ... src="data:image/png;base64,...">``: the attribute's quote must match
_DATA_IMG_SRC = re.compile(
    r"""(?P<head><img\b[^>]*?\bsrc\s*=\s*)(?P<q>["'])"""
    r"""data:image/(?P<subtype>png|jpeg|gif|webp);base64,(?P<data>[A-Za-z0-9+/=\s]*)(?P=q)""",
    re.IGNORECASE,
)
_EXTENSIONS = {"png": "png", "jpeg": "jpg", "gif": "gif", "webp": "webp"}


@dataclass(frozen=True)
class InlineImage:
    """One image for a ``multipart/related`` part; ``cid`` is without angle brackets."""

    cid: str
    subtype: str
    data: bytes

    @property
    def filename(self) -> str:
        return f"{self.cid.partition('.')[0]}.{_EXTENSIONS.get(self.subtype, 'bin')}"


def extract_data_images(html: str, domain: str) -> tuple[str, list[InlineImage]]:
    """``html`` with every base64 ``data:`` image replaced by ``cid:``, and the images.

    The same image used twice becomes one part. A ``data:`` URI that is not valid base64 is
    left alone (the client will not show it, but nothing else is lost).
    """
    images: dict[str, InlineImage] = {}

    def to_cid(match: re.Match[str]) -> str:
        try:
            data = base64.b64decode(re.sub(r"\s+", "", match["data"]), validate=True)
        except (binascii.Error, ValueError):
            return match[0]
        if not data:
            return match[0]
        subtype = match["subtype"].lower()
        digest = hashlib.sha256(data).hexdigest()[:20]
        image = images.get(digest)
        if image is None:
            image = InlineImage(f"image{len(images) + 1}.{digest}@{domain}", subtype, data)
            images[digest] = image
        return f"{match['head']}{match['q']}cid:{image.cid}{match['q']}"

    return _DATA_IMG_SRC.sub(to_cid, html), list(images.values())


def attach_related(html_part: EmailMessage, images: list[InlineImage]) -> None:
    """Make ``html_part`` a ``multipart/related`` holding the HTML and ``images`` inline."""
    for image in images:
        html_part.add_related(
            image.data,
            maintype="image",
            subtype=image.subtype,
            cid=f"<{image.cid}>",
            disposition="inline",
            filename=image.filename,
        )

"""The one A4 PDF set-up the digest, the screening report and the indicators report share.

Every text drawn goes through :func:`pdf_line`, which replaces control characters: crawled
titles and applicant names are untrusted and must not reach the PDF's content stream raw.
"""

from __future__ import annotations

import datetime as dt
import re

from fpdf import FPDF
from fpdf.enums import XPos, YPos

from warning.digest.fonts import cjk_font_path

_CONTROL = re.compile(r"[\x00-\x09\x0b-\x1f\x7f-\x9f]")


def plain(text: str) -> str:
    """``text`` with control characters (crawled text is untrusted) replaced by spaces."""
    return _CONTROL.sub(" ", text)


def cjk_pdf(title: str, created: dt.datetime, pdf_class: type[FPDF] = FPDF) -> FPDF:
    """A new A4 document with the CJK font as ``cjk`` and its first page added; ``created``
    fixes the creation date so that a rebuild from the same inputs is byte-identical."""
    pdf = pdf_class(format="A4")
    pdf.set_creation_date(created)
    pdf.set_title(title)
    pdf.set_author("ipwarn")
    pdf.add_font("cjk", fname=str(cjk_font_path()))
    pdf.set_auto_page_break(True, margin=15)
    pdf.add_page()
    return pdf


def pdf_line(pdf: FPDF, text: str, size: float = 10, height: float = 5.5, colour: int = 0) -> None:
    """One left-aligned paragraph across the page width."""
    pdf.set_font("cjk", size=size)
    pdf.set_text_color(colour)
    pdf.multi_cell(pdf.epw, height, plain(text), align="L", new_x=XPos.LMARGIN, new_y=YPos.NEXT)

"""The screening report an enterprise files before a product decision: HTML and PDF (Chinese).

It states the query, the date, the store's coverage (sources and date range) and the two
groups. Crawled text is escaped in the HTML (autoescape) and drawn as plain text in the PDF.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from warning.errors import InputError, Problem
from warning.legal_status import STATUS_ZH
from warning.pdf import cjk_pdf, pdf_line
from warning.search.screen import ScreenHit, ScreenResult

REVIEW_ZH = "有效或审查中 — 需重点审查"
FREE_ZH = "失效、期限届满或被宣告无效 — 可自由实施"
DISCLAIMER = "本报告为基于文本相似度的检索筛查结果，不构成法律意见或侵权判定。"


def _context(result: ScreenResult) -> dict[str, Any]:
    return {
        "r": {
            "query": result.query,
            "subject": result.subject,
            "candidates": result.candidates,
            "screened_on": result.screened_on.isoformat(),
        },
        "coverage": result.coverage,
        "groups": [(REVIEW_ZH, result.review, False), (FREE_ZH, result.free_to_use, True)],
        "status_zh": STATUS_ZH,
    }


def render_html(result: ScreenResult) -> str:
    env = Environment(
        loader=PackageLoader("warning.search", "templates"),
        autoescape=select_autoescape(["html", "j2"], default=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    return env.get_template("screen_report.html.j2").render(**_context(result))


def _status(hit: ScreenHit) -> str:
    st = hit.hit.legal_status
    text = STATUS_ZH[st.status]
    if st.event:
        text += f"（{st.event} {st.date}）"
    if st.is_free and st.since:
        text += f"，自 {st.since} 起可自由实施"
    return text


def render_pdf(result: ScreenResult, path: Path) -> None:
    pdf = cjk_pdf("专利检索筛查报告", result.screened_at)

    def line(text: str, size: float = 10, height: float = 5.5, colour: int = 0) -> None:
        pdf_line(pdf, text, size, height, colour)

    ctx = _context(result)["r"]
    line("专利检索筛查报告", 18, 9)
    line(
        f"筛查日期：{ctx['screened_on']}　筛查对象：{ctx['subject']}　候选文献：{ctx['candidates']} 件",
        9,
        colour=90,
    )
    line(DISCLAIMER, 9, colour=90)
    pdf.ln(2)
    line("检索内容", 12, 7)
    line(result.query[:3000], 9)
    pdf.ln(2)
    line("数据覆盖范围", 12, 7)
    cov = result.coverage
    if cov:
        line(f"库内文献 {cov.documents} 件，公开日 {cov.first or '—'} 至 {cov.last or '—'}", 9)
        for source, count, first, last in cov.sources:
            line(f"  {source}：{count} 件（{first or '—'} 至 {last or '—'}）", 9)
    for title, hits, _free in _context(result)["groups"]:
        pdf.ln(2)
        line(f"{title}（{len(hits)} 件）", 12, 7)
        if not hits:
            line("无。", 9)
        for i, s in enumerate(hits, 1):
            h = s.hit
            line(f"{i}. {h.number}  {h.title}", 10)
            line(
                f"    申请人：{'；'.join(h.applicants) or '—'}　IPC：{' '.join(h.ipc[:3]) or '—'}　"
                f"公开日：{h.publication_date or '—'}",
                8,
                colour=70,
            )
            line(
                f"    法律状态：{_status(s)}　相似度 {s.similarity:.3f}　重合词：{'、'.join(s.overlap_terms)}",
                8,
                colour=70,
            )
    pdf.output(str(path))


def write_report(result: ScreenResult, path: Path) -> Path:
    """Write the report as HTML or PDF, chosen by the file's suffix."""
    suffix = path.suffix.lower()
    if suffix not in (".html", ".htm", ".pdf"):
        raise InputError(
            [Problem("the report must be a .html or .pdf file", file=str(path), field="report")]
        )
    path.parent.mkdir(parents=True, exist_ok=True)
    if suffix == ".pdf":
        render_pdf(result, path)
    else:
        path.write_text(render_html(result), encoding="utf-8")
    return path

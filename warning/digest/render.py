"""Digest pages: self-contained HTML (Jinja2, autoescaped), a plain-text summary, and a PDF.

Crawled text (titles, applicant names) is untrusted: the HTML escapes it (autoescape), the PDF
draws it as text, and none of it reaches a mail header (the subject names only the week).
The build time is the one line that differs between two builds of the same week.
"""

from __future__ import annotations

import base64
import datetime as dt
import io
from pathlib import Path
from typing import Any

from fpdf import FPDF
from fpdf.enums import XPos, YPos
from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from warning.digest.legal import CATEGORY_ZH
from warning.digest.thresholds import LEVEL_COLOUR, LEVEL_ZH
from warning.pdf import cjk_pdf, pdf_line

#: control characters (crawled text may carry them) are drawn as spaces in the PDF


def fmt_pct(value: float | None) -> str:
    return "无数据" if value is None else f"{value * 100:.1f}%"


def fmt_signed_pct(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:+.1f}%"


def fmt_points(value: float | None) -> str:
    return "—" if value is None else f"{value:+.1f} 个百分点"


def fmt_times(value: float | None) -> str:
    return "—" if value is None else f"{value:.2f}×"


def fmt_num(value: float | None) -> str:
    if value is None:
        return "—"
    return f"{value:.0f}" if float(value).is_integer() else f"{value:.2f}"


def fmt_num0(value: float | None) -> str:
    return "—" if value is None else f"{value:.0f}"


def fmt_value(value: float | None, unit: str) -> str:
    """An indicator value in its unit (thresholds and drivers)."""
    if unit == "share":
        return fmt_pct(value)
    if unit == "points":
        return "—" if value is None else f"{value:.1f}pp"
    if unit == "ratio":
        return fmt_times(value)
    return fmt_num(value)


def fmt_no_baseline(content: dict[str, Any], sector: dict[str, Any]) -> str | None:
    """ "基线不足，不评级 (…)" for a sector whose trailing comparisons set no level, else None."""
    skipped = sector.get("no_baseline") or []
    if not skipped:
        return None
    have, need = sector["baseline"], content["thresholds"]["baseline"]
    return (
        f"{have['note']}（前12周 {have['weeks']} 周有数据、本领域 {have['documents']} 件，"
        f"需 ≥{need['min_weeks']} 周、≥{need['min_documents']} 件）：{'、'.join(skipped)}"
    )


def subject_of(content: dict[str, Any]) -> str:
    """Mail subject: only the week and fixed text, never crawled data."""
    return f"知识产权风险周报 {content['week']}（{content['start']} 至 {content['end']}）"


def _environment() -> Environment:
    env = Environment(
        loader=PackageLoader("warning.digest", "templates"),
        autoescape=select_autoescape(["html", "j2"], default=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters.update(
        pct=fmt_pct,
        signed_pct=fmt_signed_pct,
        points=fmt_points,
        times=fmt_times,
        num=fmt_num,
        num0=fmt_num0,
        value=fmt_value,
    )
    return env


def render_html(
    content: dict[str, Any],
    charts: dict[str, bytes],
    built_at: dt.datetime,
    tz: dt.tzinfo,
    *,
    input_hash: str = "",
) -> str:
    """The digest page with charts embedded as data URIs and all CSS inline."""
    template = _environment().get_template("digest.html.j2")
    encoded = {
        name: base64.b64encode(charts[name]).decode("ascii") if name in charts else None
        for name in ("filings", "foreign", "legal", "forecast")
    }
    return template.render(
        c=content,
        charts=encoded,
        built_at=built_at.astimezone(tz).strftime("%Y-%m-%d %H:%M:%S %Z"),
        tz=str(tz),
        input_hash=input_hash,
        category_zh=CATEGORY_ZH,
    )


def render_text(content: dict[str, Any]) -> str:
    """A plain-text summary for the mail body (the HTML and PDF carry the details)."""
    lines = [subject_of(content), ""]
    if not content["has_data"]:
        lines.append("本周无数据：数据库中没有该周公开的文献、法律事件或预警，本期不给出预警等级。")
        return "\n".join(lines) + "\n"
    totals = content["totals"]
    lines.append(
        f"本周公开 {totals['publications']} 件（授权 {totals['grants']}），"
        f"法律事件 {totals['legal_events']} 件，预警 {totals['alerts']} 条。"
    )
    lines.append("")
    for s in content["sectors"]:
        level = f"[{s['level_zh']}]" if s["level"] else "[无数据]"
        drivers = "；".join(
            f"{d['label']} {fmt_value(d['value'], d['unit'])}" for d in s["drivers"][:2]
        )
        lines.append(
            f"{level} {s['name_zh']}：公开 {s['publications']['this']}，"
            f"国外占比 {fmt_pct(s['foreign']['share'])}，本地 {s['local']['total']}，"
            f"法律事件 {s['legal']['total']}，预警 {s['alerts']['total']}"
            + (f"（{drivers}）" if drivers else "")
        )
        no_baseline = fmt_no_baseline(content, s)
        if no_baseline:
            lines.append(f"    {no_baseline}")
    outlook = content.get("outlook")
    if outlook:
        lines.append("")
        lines.append(
            f"趋势预测：{outlook['flagged_total']} 个领域序列出现新兴/减弱信号；未来 "
            f"{outlook['expiries']['months']} 个月重点领域 {outlook['expiries']['total']} 件专利期限届满。"
        )
    lines += ["", "详见附件 PDF 或 HTML 版本。"]
    return "\n".join(lines) + "\n"


class _DigestPdf(FPDF):
    def footer(self) -> None:
        self.set_y(-12)
        self.set_font("cjk", size=8)
        self.set_text_color(120)
        self.cell(0, 8, f"{self.page_no()}", align="C")


def render_pdf(
    content: dict[str, Any],
    charts: dict[str, bytes],
    built_at: dt.datetime,
    tz: dt.tzinfo,
    path: Path,
) -> None:
    """An A4 PDF of the digest: levels and drivers, key figures, charts, lists."""
    pdf = cjk_pdf(subject_of(content), built_at, _DigestPdf)
    width = pdf.epw

    def line(text: str, size: float = 10, height: float = 5.5, colour: int = 0) -> None:
        pdf_line(pdf, text, size, height, colour)

    line(f"知识产权风险周报 · {content['week']}", size=18, height=9)
    line(
        f"统计周期：{content['start']} 至 {content['end']}  本地区域："
        f"{'、'.join(content['local_regions'])}",
        size=9,
        colour=90,
    )
    line(f"生成时间：{built_at.astimezone(tz).strftime('%Y-%m-%d %H:%M:%S %Z')}", 9, colour=90)
    pdf.ln(3)
    if not content["has_data"]:
        line(
            "本周无数据：数据库中没有该周公开的文献、法律事件或预警，本期不给出预警等级和图表。", 12
        )
        pdf.output(str(path))
        return
    for s in content["sectors"]:
        _sector_heading(pdf, s)
        drivers = "；".join(
            f"{d['label']} {fmt_value(d['value'], d['unit'])}（≥{fmt_value(d['threshold'], d['unit'])}）"
            for d in s["drivers"]
        )
        if not s["has_data"]:
            line("本周该领域没有公开文献、法律事件或预警。", 9)
            continue
        line(f"依据：{drivers or '没有指标达到黄色及以上阈值'}", 9)
        no_baseline = fmt_no_baseline(content, s)
        if no_baseline:
            line(no_baseline, 9)
        pub = s["publications"]
        line(
            f"公开 {pub['this']}（上周 {pub['prev'] if pub['prev'] is not None else '无数据'}，"
            f"环比 {fmt_signed_pct(pub['wow'])}，前12周均值 {fmt_num(pub['mean12'])}）；"
            f"授权 {s['grants']['this']}；国外占比 {fmt_pct(s['foreign']['share'])}"
            f"（前12周 {fmt_pct(s['foreign']['trailing_share'])}）；CR4 {fmt_pct(s['cr4'])}，"
            f"HHI {fmt_num0(s['hhi'])}；本地 {s['local']['total']}；法律事件 {s['legal']['total']}；"
            f"预警 {s['alerts']['total']}",
            9,
        )
        if s["top_applicants"]:
            line(
                "主要申请人："
                + "；".join(f"{a['name']} {a['documents']}" for a in s["top_applicants"]),
                9,
            )
        for e in s["legal"]["opportunities"][:10]:
            line(f"  可自由实施：{e['number']} {e['title']}（{e['code']}，{e['event_date']}）", 8)
        for a in s["notable"]:
            line(f"  [{a['level_zh']}] {a['number'] or ''} {a['title']} — {a['why']}", 8)
        pdf.ln(2)
    _outlook_pdf(pdf, content.get("outlook"), line)
    for name in ("filings", "foreign", "legal", "forecast"):
        if name in charts:
            if pdf.get_y() > pdf.h - 95:
                pdf.add_page()
            pdf.image(io.BytesIO(charts[name]), w=width)
            pdf.ln(2)
    if content["notable"]:
        pdf.ln(2)
        line("重点关注文献", 12, 7)
        for a in content["notable"]:
            line(f"[{a['level_zh']}] {a['number'] or '—'} {a['title']}", 9)
            line(f"    {a['rule_title']}：{a['why']}", 8, colour=70)
    pdf.output(str(path))


def _outlook_pdf(pdf: FPDF, outlook: dict[str, Any] | None, line: Any) -> None:
    """The outlook in the PDF: flags, next quarter's expiries, the dispute-prone top ten."""
    if not outlook:
        return
    pdf.ln(2)
    line(f"趋势预测与法律状态预测（截至 {outlook['as_of']}）", 12, 7)
    for s in outlook["sectors"]:
        line(f"  {s['name_zh']}：{s['model'] or '—'}，{s['reason']}", 8)
    if outlook["flagged"]:
        line("新兴/减弱信号：", 9)
        for f in outlook["flagged"]:
            flag = "新兴" if f["flag"] == "emerging" else "减弱"
            line(f"  [{flag}] {f['label']} {f['measure']}：{f['reason']}", 8)
    exp = outlook["expiries"]
    line(f"未来 {exp['months']} 个月期限届满：{exp['total']} 件", 9)
    for e in exp["items"][:10]:
        line(f"  {e['number']} {e['right_zh']} {e['title']}（届满 {e['date']}）", 8)
    line(outlook["lapse_model"]["reason"], 8, colour=90)
    if outlook["disputes"]:
        line("易发纠纷领域前十：", 9)
        for i, f in enumerate(outlook["disputes"], 1):
            parts = "，".join(
                f"{c['label_zh']} {c['value']:g}" for c in f["components"].values() if c["score"]
            )
            line(f"  {i}. {f['label']} 指数 {f['index']:.3f}（{parts or '各分项均为 0'}）", 8)


def _sector_heading(pdf: FPDF, sector: dict[str, Any]) -> None:
    level = sector["level"]
    colour = LEVEL_COLOUR.get(level or "", "#999999")
    r, g, b = (int(colour[i : i + 2], 16) for i in (1, 3, 5))
    pdf.set_font("cjk", size=12)
    pdf.set_fill_color(r, g, b)
    pdf.set_text_color(255)
    label = LEVEL_ZH[level] if level else "无数据"
    pdf.cell(16, 7, label, align="C", fill=True)
    pdf.set_text_color(0)
    pdf.cell(0, 7, f"  {sector['name_zh']}", new_x=XPos.LMARGIN, new_y=YPos.NEXT)

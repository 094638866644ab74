"""The quarterly indicators report: one HTML page (charts inline) and a PDF, reproducible.

Built from the indicator JSON of :func:`warning.indicators.cli.run_indicators` only: the same
store gives byte-identical files (no build time; the PDF's creation date is the period's last
day; PNG metadata carries no date). The report names the SHA-256 of its figures.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import io
import json
import re
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from matplotlib.figure import Figure

from warning.digest.charts import _png, _rc
from warning.digest.render import fmt_pct
from warning.errors import InputError, Problem
from warning.indicators.applicant_types import TYPE_ZH, TYPES
from warning.pdf import cjk_pdf, pdf_line

_QUARTER = re.compile(r"^(\d{4})-?Q([1-4])$", re.IGNORECASE)
CLASS_ZH = {"A": "发明公开", "B": "发明授权", "U": "实用新型", "S": "外观设计"}


def quarter_bounds(text: str) -> tuple[dt.date, dt.date]:
    """``2026Q3`` -> (2026-07-01, 2026-09-30)."""
    match = _QUARTER.match(text.strip())
    if not match:
        raise InputError(
            [Problem(f"not a quarter: {text!r}; write it like 2026Q3", field="--quarter")]
        )
    year, q = int(match.group(1)), int(match.group(2))
    start = dt.date(year, 3 * q - 2, 1)
    end = (dt.date(year + (q == 4), (3 * q) % 12 + 1, 1)) - dt.timedelta(days=1)
    return start, end


def fingerprint(data: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(data, sort_keys=True, ensure_ascii=False).encode()).hexdigest()


def monthly_chart(data: dict[str, Any]) -> bytes | None:
    months = list(data["by_month"])
    if not months:
        return None
    with matplotlib.rc_context(_rc()):
        fig = Figure(figsize=(7.2, 3.0))
        ax = fig.add_subplot()
        bottom = [0] * len(months)
        for cls, colour in zip(CLASS_ZH, ("#1f77b4", "#08519c", "#2ca02c", "#ff7f0e"), strict=True):
            heights = [data["by_month"][m][cls] for m in months]
            ax.bar(months, heights, 0.6, bottom=bottom, label=CLASS_ZH[cls], color=colour)
            bottom = [b + h for b, h in zip(bottom, heights, strict=True)]
        ax.set_ylabel("文献数")
        ax.set_title(f"{data['region']} 每月公开/授权量（按类型）")
        ax.grid(axis="y", alpha=0.3)
        ax.legend(fontsize=8, frameon=False, ncol=4)
        fig.tight_layout()
        return _png(fig)


def types_chart(data: dict[str, Any]) -> bytes | None:
    counts = [data["applicant_types"][t] for t in TYPES]
    if not any(counts):
        return None
    with matplotlib.rc_context(_rc()):
        fig = Figure(figsize=(7.2, 2.6))
        ax = fig.add_subplot()
        ax.barh([TYPE_ZH[t] for t in TYPES], counts, color="#6baed6")
        for i, n in enumerate(counts):
            ax.annotate(str(n), (n, i), va="center", fontsize=8)
        ax.set_xlabel("申请量")
        ax.set_title("申请人类型")
        fig.tight_layout()
        return _png(fig)


def render_report(data: dict[str, Any], out_dir: Path, label: str) -> tuple[Path, Path]:
    """Write ``indicators-<region>-<label>.html`` and ``.pdf`` into ``out_dir``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    charts = {"monthly": monthly_chart(data), "types": types_chart(data)}
    digest = fingerprint(data)
    env = Environment(
        loader=PackageLoader("warning.indicators", "templates"),
        autoescape=select_autoescape(["html", "j2"], default=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["pct"] = fmt_pct
    html = env.get_template("report.html.j2").render(
        d=data,
        label=label,
        fingerprint=digest,
        type_zh=TYPE_ZH,
        class_zh=CLASS_ZH,
        charts={k: base64.b64encode(v).decode("ascii") if v else None for k, v in charts.items()},
    )
    stem = out_dir / f"indicators-{data['region']}-{label}"
    html_path, pdf_path = stem.with_suffix(".html"), stem.with_suffix(".pdf")
    html_path.write_text(html, encoding="utf-8")
    _pdf(data, label, digest, charts, pdf_path)
    return html_path, pdf_path


def _pdf(
    data: dict[str, Any], label: str, digest: str, charts: dict[str, bytes | None], path: Path
) -> None:
    until = dt.date.fromisoformat(data["until"])
    pdf = cjk_pdf(
        f"知识产权统计指标 {data['region']} {label}",
        dt.datetime.combine(until, dt.time(0), tzinfo=dt.UTC),
    )

    def line(text: str, size: float = 10, height: float = 5.5) -> None:
        pdf_line(pdf, text, size, height)

    docs = data["documents"]
    line(f"知识产权统计指标 · {data['region']} · {label}", 16, 8)
    line(
        f"统计期间：{data['since']} 至 {data['until']}（按公开/公告日，申请人地址在本地区的文献各计一次）",
        9,
    )
    line(
        f"申请量 {data['applications']}（发明公开 {docs['A']}，实用新型 {docs['U']}，外观设计 {docs['S']}）；"
        f"授权量 {data['grants']}（发明授权 {docs['B']}）",
        10,
    )
    line(
        "申请人类型："
        + "，".join(f"{TYPE_ZH[t]} {n}" for t, n in data["applicant_types"].items())
        + f"；企业占比 {fmt_pct(data['enterprise_share'])}，职务发明占比 "
        f"{fmt_pct(data['service_invention_share'])}，发明占比 {fmt_pct(data['invention_share'])}",
        10,
    )
    for t in data["targets"]:
        state = {True: "达到", False: "未达到", None: "无数据"}[t["met"]]
        line(f"目标 {t['label']}：实际 {fmt_pct(t['value'])}，{state}", 10)
    for a in data["top_applicants"][:10]:
        line(f"  {a['name']}（{TYPE_ZH[a['type']]}）{a['documents']}", 9)
    for png in charts.values():
        if png:
            pdf.image(io.BytesIO(png), w=pdf.epw)
    line(f"数据指纹 SHA-256：{digest}", 7)
    pdf.output(str(path))

"""Digest charts as deterministic PNG bytes (matplotlib, Agg, the packaged CJK font).

A chart is drawn only when there is something to show: weeks without any stored document are
gaps, not zeros, and a chart whose every point is missing is left out (the page says why).
PNG metadata carries no software version or date, so the same numbers give the same bytes.
"""

from __future__ import annotations

import io
import math
from typing import Any

import matplotlib

matplotlib.use("Agg")

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from warning.digest.fonts import matplotlib_family
from warning.digest.legal import CATEGORIES, CATEGORY_ZH

#: short sector names for chart legends (the page uses the full taxonomy names)
SHORT_ZH: dict[str, str] = {
    "steel": "钢铁",
    "equipment": "装备制造",
    "chemicals": "化工新材料",
    "minerals": "矿产品",
    "optoelectronics": "光电",
}
_COLOURS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b")
_CATEGORY_COLOURS = {
    "invalidation": "#d62728",
    "termination": "#7f7f7f",
    "expiry": "#bcbd22",
    "transfer": "#1f77b4",
    "other": "#c7c7c7",
}
_DPI = 110


def _rc() -> Any:
    return {
        "font.family": [matplotlib_family(), "DejaVu Sans"],
        "axes.unicode_minus": False,
        "svg.hashsalt": "ipwarn-digest",
        "path.simplify": True,
        "font.size": 9,
    }


def _png(fig: Figure) -> bytes:
    buffer = io.BytesIO()
    FigureCanvasAgg(fig)
    fig.savefig(buffer, format="png", dpi=_DPI, metadata={"Software": None})
    return buffer.getvalue()


def _label(sector: dict[str, Any]) -> str:
    return SHORT_ZH.get(sector["id"], sector["name_zh"])


def filings_chart(content: dict[str, Any]) -> bytes | None:
    """Documents published per sector in each of the 12 weeks up to the digest week."""
    weeks = content["weeks"]
    if not content["weeks_with_data"]:
        return None
    with matplotlib.rc_context(_rc()):
        fig = Figure(figsize=(7.2, 3.2))
        ax = fig.add_subplot()
        x = list(range(len(weeks)))
        for i, sector in enumerate(content["sectors"]):
            y = [math.nan if v is None else v for v in sector["series"]]
            ax.plot(
                x,
                y,
                marker="o",
                markersize=3,
                linewidth=1.5,
                color=_COLOURS[i % len(_COLOURS)],
                label=_label(sector),
            )
        ax.set_xticks(x, [w.split("-")[1] for w in weeks])
        ax.set_ylabel("公开文献数")
        ax.set_title(f"各领域每周公开量（近12周，截至 {content['week']}；空缺 = 无数据）")
        ax.set_ylim(bottom=0)
        ax.grid(axis="y", alpha=0.3)
        ax.legend(
            ncol=5, fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.12), frameon=False
        )
        fig.tight_layout()
        return _png(fig)


def foreign_chart(content: dict[str, Any]) -> bytes | None:
    """Foreign-applicant share per sector: this week against the 12 weeks before."""
    sectors = content["sectors"]
    rows = [(s, s["foreign"]["share"], s["foreign"]["trailing_share"]) for s in sectors]
    if all(this is None and before is None for _, this, before in rows):
        return None
    with matplotlib.rc_context(_rc()):
        fig = Figure(figsize=(7.2, 3.0))
        ax = fig.add_subplot()
        width = 0.38
        for i, (_sector, this, before) in enumerate(rows):
            if before is not None:
                ax.bar(
                    i - width / 2,
                    before * 100,
                    width,
                    color="#9ecae1",
                    label="前12周" if "前12周" not in _legend_labels(ax) else None,
                )
                ax.annotate(
                    f"{before * 100:.0f}%",
                    (i - width / 2, before * 100),
                    ha="center",
                    va="bottom",
                    fontsize=7,
                    color="#555555",
                )
            if this is not None:
                ax.bar(
                    i + width / 2,
                    this * 100,
                    width,
                    color="#08519c",
                    label="本周" if "本周" not in _legend_labels(ax) else None,
                )
                ax.annotate(
                    f"{this * 100:.0f}%",
                    (i + width / 2, this * 100),
                    ha="center",
                    va="bottom",
                    fontsize=7,
                )
            else:
                ax.annotate(
                    "本周无数据",
                    (i + width / 2, 1),
                    ha="center",
                    va="bottom",
                    fontsize=7,
                    color="#666666",
                )
        ax.set_xticks(range(len(rows)), [_label(s) for s, _, _ in rows])
        ax.set_xlim(-0.6, len(rows) - 0.4)
        ax.set_ylabel("国外申请人占比 (%)")
        ax.set_ylim(0, 105)
        ax.set_title("国外申请人占比：本周 vs 前12周")
        ax.grid(axis="y", alpha=0.3)
        ax.legend(fontsize=8, frameon=False)
        fig.tight_layout()
        return _png(fig)


def _legend_labels(ax: Any) -> list[str]:
    return [str(label) for label in ax.get_legend_handles_labels()[1]]


def legal_chart(content: dict[str, Any]) -> bytes | None:
    """Legal events of the week per sector, stacked by digest category."""
    sectors = content["sectors"]
    if not any(s["legal"]["total"] for s in sectors):
        return None
    with matplotlib.rc_context(_rc()):
        fig = Figure(figsize=(7.2, 3.0))
        ax = fig.add_subplot()
        x = list(range(len(sectors)))
        bottom = [0] * len(sectors)
        for category in CATEGORIES:
            heights = [s["legal"]["counts"][category] for s in sectors]
            if not any(heights):
                continue
            ax.bar(
                x,
                heights,
                0.6,
                bottom=bottom,
                label=CATEGORY_ZH[category],
                color=_CATEGORY_COLOURS[category],
            )
            bottom = [b + h for b, h in zip(bottom, heights, strict=True)]
        ax.set_xticks(x, [_label(s) for s in sectors])
        ax.set_ylabel("法律事件数")
        ax.set_title(f"本周法律事件（按类型，{content['week']}）")
        ax.yaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(axis="y", alpha=0.3)
        ax.legend(fontsize=8, frameon=False)
        fig.tight_layout()
        return _png(fig)


def forecast_chart(content: dict[str, Any]) -> bytes | None:
    """Per key sector: weekly publications, the 12-week forecast and its 80 % / 95 % bands."""
    outlook = content.get("outlook") or {}
    sectors = [s for s in outlook.get("sectors", []) if s["status"] == "ok" and s["forecast"]]
    if not sectors:
        return None
    with matplotlib.rc_context(_rc()):
        fig = Figure(figsize=(7.2, 1.9 * len(sectors) + 0.6))
        axes = fig.subplots(len(sectors), 1, squeeze=False)[:, 0]
        for ax, sector in zip(axes, sectors, strict=True):
            hist = sector["history"]
            fc = sector["forecast"]
            xh = list(range(len(hist)))
            xf = list(range(len(hist), len(hist) + len(fc)))
            ax.fill_between(
                xf, [f["lo95"] for f in fc], [f["hi95"] for f in fc], color="#c6dbef", label="95%"
            )
            ax.fill_between(
                xf, [f["lo80"] for f in fc], [f["hi80"] for f in fc], color="#6baed6", label="80%"
            )
            ax.plot(xh, [h["value"] for h in hist], color="#08306b", linewidth=1.4, label="实际")
            ax.plot(
                xf,
                [f["mean"] for f in fc],
                color="#d94801",
                linewidth=1.4,
                linestyle="--",
                label="预测",
            )
            flag = {"emerging": "（新兴↑）", "fading": "（减弱↓）"}.get(sector["flag"] or "", "")
            ax.set_title(
                f"{SHORT_ZH.get(sector['id'], sector['name_zh'])}：{sector['model']}{flag}",
                fontsize=9,
                loc="left",
            )
            ticks = [*xh, *xf][:: max(1, (len(xh) + len(xf)) // 8)]
            labels = [*(h["week"] for h in hist), *(f["week"] for f in fc)]
            ax.set_xticks(ticks, [labels[i].split("-")[1] for i in ticks])
            ax.set_ylim(bottom=0)
            ax.grid(axis="y", alpha=0.3)
        axes[0].legend(ncol=4, fontsize=7, loc="upper left", frameon=False)
        fig.suptitle(f"重点领域每周公开量与未来12周预测（截至 {outlook['as_of']}）", fontsize=10)
        fig.tight_layout()
        return _png(fig)


def render_charts(content: dict[str, Any]) -> dict[str, bytes]:
    """Chart name -> PNG bytes, only for charts with data."""
    if not content["has_data"]:
        return {}
    charts = {
        "filings": filings_chart(content),
        "foreign": foreign_chart(content),
        "legal": legal_chart(content),
        "forecast": forecast_chart(content),
    }
    return {name: png for name, png in charts.items() if png is not None}

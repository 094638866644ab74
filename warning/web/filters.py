"""Jinja2 filters of the console: local times, severities, verdicts (all output escaped)."""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

import jinja2

from warning.delivery.message import SEVERITY_STYLE

VERDICTS_ZH = {"useful": "有用", "not_relevant": "不相关", "known": "已知悉"}
STATUS_ZH = {
    "draft": "草稿",
    "test": "测试",
    "active": "生效",
    "retired": "已停用",
    "approved": "已批准",
    "sent": "已发送",
}
_TZ = ZoneInfo("Asia/Shanghai")


def local_time(value: Any, fmt: str = "%Y-%m-%d %H:%M") -> str:
    """An ISO string or datetime shown in Beijing time; anything else as text."""
    if value is None or value == "":
        return "—"
    if isinstance(value, str):
        try:
            value = dt.datetime.fromisoformat(value)
        except ValueError:
            return value
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=dt.UTC)
        return value.astimezone(_TZ).strftime(fmt)
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)


def severity_zh(value: str | None) -> str:
    return SEVERITY_STYLE.get(value or "", (value or "未分级",))[0]


def install(env: jinja2.Environment) -> None:
    env.filters["local_time"] = local_time
    env.filters["severity_zh"] = severity_zh
    env.filters["verdict_zh"] = lambda v: VERDICTS_ZH.get(v or "", v or "—")
    env.filters["status_zh"] = lambda v: STATUS_ZH.get(v or "", v or "—")

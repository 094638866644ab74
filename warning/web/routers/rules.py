"""Expert pages: rules with version history, alerts per week and precision from feedback; the
YAML editor that validates, back-tests (the code path of `ipwarn rules test --since`) and
saves immutable versions; activate and retire.

Console versions and ``rules_dir`` files share one store: a stored (id, version) never
changes, whoever stored it first; the latest activation wins (docs/console.md).
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from typing import Annotated, Any

import yaml
from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import func, select

from rules.backtest import backtest_stored, format_line
from rules.engine import CompiledRule
from rules.loader import LoadedRule, load_rules, load_rules_text
from rules.repository import set_status, sync_rules
from rules.stage import rules_dir
from warning.errors import InputError, Problem
from warning.store.models import Alert, Rule
from warning.web.alerts import precision_by_rule
from warning.web.auth import audit
from warning.web.deps import client_address, need, now_of, render, settings_of, store_of
from warning.web.permissions import AccessDenied, Principal
from warning.web.routers import NavItem
from warning.web.routers.api import rule_rows

router = APIRouter(include_in_schema=False)
NAV = [NavItem("规则", "/rules", "rules.read", 50)]
EDITOR_NAME = "console.yaml"
SAVE_STATUSES = ("draft", "test", "active")
WEEKS = 8
MAX_SHOWN = 200
PRECEDENCE = (
    "控制台保存的规则版本与 rules_dir 目录中的规则文件写入同一个规则库：已保存的“规则编号+版本”永不改变，"
    "先保存者为准；同一规则以最后一次生效操作为准（控制台“生效”、`ipwarn rules activate`，"
    "或规则文件中新版本首次同步时 status: active）。控制台保存时请使用新的版本号。"
)


def _file_rules(request: Request) -> dict[str, str]:
    """rule id -> the rules_dir file defining it (to show where a rule also lives)."""
    loaded, _ = load_rules([rules_dir(settings_of(request))])
    return {r.spec.id: r.file for r in loaded}


def _weekly(request: Request, rule_id: str | None, now: dt.datetime) -> dict[str, dict[str, int]]:
    """{rule_id: {ISO week: alerts}} over the last WEEKS weeks."""
    start = now - dt.timedelta(weeks=WEEKS)
    with store_of(request).read_session() as session:
        stmt = select(Alert.rule_id, Alert.created_at).where(Alert.created_at >= start)
        if rule_id:
            stmt = stmt.where(Alert.rule_id == rule_id)
        out: dict[str, Counter[str]] = {}
        for rid, created in session.execute(stmt):
            year, week, _ = created.isocalendar()
            out.setdefault(rid, Counter())[f"{year}-W{week:02d}"] += 1
    return {rid: dict(sorted(c.items())) for rid, c in out.items()}


def _week_labels(now: dt.datetime) -> list[str]:
    labels = []
    for i in range(WEEKS - 1, -1, -1):
        year, week, _ = (now - dt.timedelta(weeks=i)).isocalendar()
        labels.append(f"{year}-W{week:02d}")
    return labels


@router.get("/rules")
async def rules_page(request: Request, principal: Principal = need("rules.read")) -> Response:
    now = now_of(request)
    versions = rule_rows(request)
    weekly = _weekly(request, None, now)
    by_rule: dict[str, dict[str, Any]] = {}
    for v in versions:
        entry = by_rule.setdefault(
            v["rule_id"], {"rule_id": v["rule_id"], "versions": 0, "active": None, "latest": v}
        )
        entry["versions"] += 1
        entry["latest"] = v
        if v["status"] == "active":
            entry["active"] = v
    weeks = _week_labels(now)
    rows = [
        {**e, "weekly": [weekly.get(rid, {}).get(w, 0) for w in weeks]}
        for rid, e in sorted(by_rule.items())
    ]
    data = {
        "rules": rows,
        "weeks": weeks,
        "precedence": PRECEDENCE,
        "can_edit": principal.can("rules.edit"),
    }
    return render(request, "rules/list.html", data)


def _editor_data(
    text: str,
    *,
    problems: list[Problem] | None = None,
    since: str = "",
    until: str = "",
    status: str = "draft",
    backtest: dict[str, Any] | None = None,
    message: str = "",
) -> dict[str, Any]:
    return {
        "yaml": text,
        "problems": [
            {"text": str(p), "line": p.line, "field": p.field or "", "message": p.message}
            for p in problems or []
        ],
        "since": since,
        "until": until,
        "status": status,
        "statuses": list(SAVE_STATUSES),
        "backtest": backtest,
        "message": message,
        "precedence": PRECEDENCE,
    }


def _template_for(request: Request, rule_id: str | None) -> str:
    """YAML for a new version of ``rule_id`` (its latest definition, version + 1, draft)."""
    if not rule_id:
        return (
            "id: my-new-rule\nversion: 1\ntitle: 新规则\nseverity: medium\nstatus: draft\n"
            'when:\n  keywords: "取向硅钢 AND 高磁感"\n  sectors: [steel]\nnotify: subscribers\n'
        )
    with store_of(request).read_session() as session:
        row = session.scalar(
            select(Rule).where(Rule.rule_id == rule_id).order_by(Rule.version.desc())
        )
    if row is None:
        raise AccessDenied(404, "未找到该规则 (no such rule)")
    definition = {**row.definition, "version": row.version + 1, "status": "draft"}
    text: str = yaml.safe_dump(definition, allow_unicode=True, sort_keys=False)
    return text


@router.get("/rules/editor")
async def editor(
    request: Request, rule: str | None = None, principal: Principal = need("rules.edit")
) -> Response:
    return render(request, "rules/editor.html", _editor_data(_template_for(request, rule)))


def _dates(since: str, until: str, now: dt.datetime) -> tuple[dt.date, dt.date]:
    problems = []
    try:
        first = dt.date.fromisoformat(since) if since else (now - dt.timedelta(days=90)).date()
    except ValueError:
        problems.append(Problem(f"not a date (YYYY-MM-DD): {since!r}", field="since"))
        first = now.date()
    try:
        last = dt.date.fromisoformat(until) if until else now.date()
    except ValueError:
        problems.append(Problem(f"not a date (YYYY-MM-DD): {until!r}", field="until"))
        last = now.date()
    if not problems and last < first:
        problems.append(Problem("must not be before since", field="until"))
    if problems:
        raise InputError(problems)
    return first, last


def _backtest(
    request: Request, loaded: list[LoadedRule], first: dt.date, last: dt.date, now: dt.datetime
) -> dict[str, Any]:
    candidate = [CompiledRule.build(r.spec) for r in loaded]
    end = dt.datetime.combine(last, dt.time(23, 59), tzinfo=dt.UTC)
    result = backtest_stored(
        store_of(request), settings_of(request), candidate, first, last, min(end, now)
    )
    return {
        "first": result.first,
        "last": result.last,
        "documents": result.documents,
        "alerts": len(result.candidate),
        "lines": [format_line(m) for m in result.candidate[:MAX_SHOWN]],
        "diffs": [
            {
                "rule_id": d.rule_id,
                "candidate_version": d.candidate_version,
                "active_version": d.baseline_version,
                "gained": [{"enterprise": e, "subject": s} for e, s in d.gained[:MAX_SHOWN]],
                "lost": [{"enterprise": e, "subject": s} for e, s in d.lost[:MAX_SHOWN]],
                "gained_count": len(d.gained),
                "lost_count": len(d.lost),
            }
            for d in result.diffs
        ],
    }


@router.post("/rules/editor")
async def editor_submit(
    request: Request,
    yaml_text: Annotated[str, Form(alias="yaml", max_length=200_000)],
    action: Annotated[str, Form(max_length=20)] = "validate",
    since: Annotated[str, Form(max_length=20)] = "",
    until: Annotated[str, Form(max_length=20)] = "",
    status: Annotated[str, Form(max_length=10)] = "draft",
    principal: Principal = need("rules.edit"),
) -> Response:
    now = now_of(request)
    keep: dict[str, Any] = {"since": since, "until": until, "status": status}
    loaded, problems = load_rules_text(yaml_text, EDITOR_NAME)
    if status not in SAVE_STATUSES:
        problems.append(Problem(f"one of {', '.join(SAVE_STATUSES)}", field="status"))
    if problems:
        return render(
            request,
            "rules/editor.html",
            _editor_data(yaml_text, problems=problems, **keep),
            status_code=422,
        )
    if action == "backtest":
        try:
            first, last = _dates(since, until, now)
        except InputError as exc:
            return render(
                request,
                "rules/editor.html",
                _editor_data(yaml_text, problems=exc.problems, **keep),
                status_code=422,
            )
        result = _backtest(request, loaded, first, last, now)
        return render(
            request, "rules/editor.html", _editor_data(yaml_text, backtest=result, **keep)
        )
    if action != "save":
        return render(
            request,
            "rules/editor.html",
            _editor_data(yaml_text, message=f"校验通过：{len(loaded)} 条规则。", **keep),
        )
    versions = [
        LoadedRule(
            spec=r.spec.model_copy(update={"status": status}),
            file=f"console:{principal.email}",
            line=r.line,
        )
        for r in loaded
    ]
    with store_of(request).session() as session:
        report = sync_rules(session, versions, now)
        if report.problems:
            session.rollback()
        else:
            for key in report.inserted:
                audit(
                    session,
                    actor=principal.email,
                    action="rule.save",
                    target=key,
                    detail={"status": status},
                    address=client_address(request),
                    now=now,
                )
    if report.problems:
        return render(
            request,
            "rules/editor.html",
            _editor_data(yaml_text, problems=report.problems, **keep),
            status_code=422,
        )
    saved = ", ".join(report.inserted) or "（无变化：该版本已以相同内容保存）"
    return render(
        request, "rules/editor.html", _editor_data(yaml_text, message=f"已保存：{saved}", **keep)
    )


@router.get("/rules/{rule_id}")
async def rule_page(
    request: Request, rule_id: str, principal: Principal = need("rules.read")
) -> Response:
    now = now_of(request)
    with store_of(request).read_session() as session:
        rows = session.scalars(
            select(Rule).where(Rule.rule_id == rule_id).order_by(Rule.version.desc())
        ).all()
        if not rows:
            raise AccessDenied(404, "未找到该规则 (no such rule)")
        counts = dict(
            session.execute(
                select(Alert.rule_version, func.count())
                .where(Alert.rule_id == rule_id)
                .group_by(Alert.rule_version)
            ).all()
        )
        precision = precision_by_rule(session)
    empty = {"useful": 0, "not_relevant": 0, "known": 0, "precision": None}
    versions = [
        {
            "version": r.version,
            "title": r.title,
            "severity": r.severity,
            "status": r.status,
            "source": r.source_file,
            "created_at": r.created_at,
            "activated_at": r.activated_at,
            "retired_at": r.retired_at,
            "alerts": int(counts.get(r.version, 0)),
            "feedback": precision.get((rule_id, r.version), empty),
            "definition": yaml.safe_dump(r.definition, allow_unicode=True, sort_keys=False),
        }
        for r in rows
    ]
    weeks = _week_labels(now)
    weekly = _weekly(request, rule_id, now).get(rule_id, {})
    data = {
        "rule_id": rule_id,
        "versions": versions,
        "weeks": [{"week": w, "alerts": weekly.get(w, 0)} for w in weeks],
        "file": _file_rules(request).get(rule_id),
        "precedence": PRECEDENCE,
        "can_edit": principal.can("rules.edit"),
    }
    return render(request, "rules/rule.html", data)


@router.post("/rules/{rule_id}/{version}/{change}")
async def rule_status(
    request: Request,
    rule_id: str,
    version: int,
    change: str,
    principal: Principal = need("rules.edit"),
) -> Response:
    statuses = {"activate": "active", "retire": "retired", "test": "test"}
    if change not in statuses:
        raise AccessDenied(404, "未找到 (not found)")
    now = now_of(request)
    with store_of(request).session() as session:
        rule = set_status(session, rule_id, version, statuses[change], now)
        audit(
            session,
            actor=principal.email,
            action=f"rule.{change}",
            target=f"{rule.rule_id}@{rule.version}",
            address=client_address(request),
            now=now,
        )
    return RedirectResponse(f"/rules/{rule_id}", status_code=303)

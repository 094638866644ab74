"""`ipwarn alerts`: stored alerts with their explanations (a thin view over rules.alerts)."""

from __future__ import annotations

import datetime as dt
import json

import click

from warning.app import App
from warning.dates import parse_date
from warning.errors import InputError, Problem
from warning.timefmt import local, local_iso


@click.command()
@click.option("--enterprise", default=None, help="Only this enterprise id.")
@click.option("--rule", "rule_id", default=None, help="Only this rule id.")
@click.option("--since", default=None, metavar="DATE", help="Created on or after DATE (local).")
@click.option(
    "--status",
    default=None,
    help="Only this status: new, test (rules in test: recorded, never sent), queued, "
    "suppressed, sent.",
)
@click.option("--test", "only_test", is_flag=True, help="Same as --status test.")
@click.option("--limit", default=50, show_default=True, type=click.IntRange(1, 10_000))
@click.option("--json", "as_json", is_flag=True, help="One JSON object per alert.")
@click.pass_obj
def alerts(
    app: App,
    enterprise: str | None,
    rule_id: str | None,
    since: str | None,
    status: str | None,
    only_test: bool,
    limit: int,
    as_json: bool,
) -> None:
    """List stored alerts, newest first, each with why it was raised."""
    from rules.alerts import ALERT_STATUSES, list_alerts
    from rules.spec import did_you_mean

    tz = app.settings.tz
    if only_test:
        status = "test"
    if status is not None and status not in ALERT_STATUSES:
        raise InputError(
            [
                Problem(
                    f"unknown status {status!r}{did_you_mean(status, ALERT_STATUSES)} "
                    f"(one of {', '.join(ALERT_STATUSES)})",
                    field="--status",
                )
            ]
        )
    start = None
    if since is not None:
        day = parse_date(since, "--since")
        if day is not None:
            start = dt.datetime.combine(day, dt.time(), tzinfo=tz).astimezone(dt.UTC)
    with app.store.session() as session:
        rows = list_alerts(
            session, enterprise=enterprise, rule=rule_id, since=start, status=status, limit=limit
        )
    for row in rows:
        if as_json:
            click.echo(
                json.dumps(
                    {
                        "id": row.id,
                        "created_at": local_iso(row.created_at, tz),
                        "status": row.status,
                        "severity": row.severity,
                        "rule": row.rule_id,
                        "rule_version": row.rule_version,
                        "enterprise": row.enterprise_id,
                        "number": row.number,
                        "title": row.title,
                        "why": [{"label": k, "text": v} for k, v in row.why],
                        "explanation": row.explanation,
                    },
                    ensure_ascii=False,
                    default=str,
                )
            )
            continue
        click.echo(
            f"#{row.id}  {local(row.created_at, tz)}  {row.status:<10} {row.severity:<8} "
            f"{row.rule_id} v{row.rule_version}  {row.enterprise_id or '(bureau)'}  "
            f"{row.number} {row.title}".rstrip()
        )
        for label, text in row.why:
            click.echo(f"    {label}：{text}")
    if not as_json:
        what = f" with status {status}" if status else ""
        click.echo(
            f"{len(rows)} alert(s){what}"
            + (f" (limit {limit}; use --limit)" if len(rows) == limit else ""),
            err=True,
        )

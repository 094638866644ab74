"""Editing a subscription from the console or the API, validated exactly like a YAML import.

The edited values go through :class:`rules.spec.EnterpriseSpec` (recipients, sectors,
sub-fields, the keyword query parser, IPC prefixes, quiet hours, cap), so a console user sees
the same messages as `ipwarn subscriptions import`; they are stored by the same
``subscription_values``.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from pydantic import ValidationError
from sqlalchemy.orm import Session

from rules.repository import spec_of, subscription_values, watches
from rules.spec import EnterpriseSpec
from warning.errors import InputError, Problem
from warning.store.models import Enterprise, Subscription
from warning.web.auth import audit

LIST_FIELDS = ("sectors", "subfields", "ipc", "competitors", "own_patents", "products")


def subscription_data(sub: Subscription, enterprise: Enterprise) -> dict[str, Any]:
    """The editable state of one subscription (the page, its JSON twin and the API)."""
    spec = spec_of(sub)
    scope = spec.scope.model_dump(mode="json")
    return {
        "id": sub.id,
        "enterprise_id": enterprise.id,
        "enterprise_name": enterprise.name,
        "name": sub.name,
        "active": sub.active,
        "scope": scope,
        "frequency": spec.frequency,
        "quiet_hours": spec.quiet_hours,
        "daily_cap": spec.daily_cap,
        "recipients": list(enterprise.recipients),
        "updated_at": sub.updated_at,
    }


def validation_problems(exc: ValidationError) -> list[Problem]:
    """An enterprise/subscription form's pydantic errors as problems named like its fields."""
    out = []
    for err in exc.errors():
        loc = [
            p
            for p in err["loc"]
            if not (isinstance(p, str) and p.startswith(("function-", "literal[")))
        ]
        # EnterpriseSpec -> subscriptions[0] -> field: name the field as the form/API does
        if loc[:2] == ["subscriptions", 0]:
            loc = loc[2:]
        field = ".".join(str(p) for p in loc if p not in ("str", "list[str]"))
        out.append(Problem(str(err["msg"]).removeprefix("Value error, "), field=field or None))
    return out


def update_subscription(
    session: Session,
    sub: Subscription,
    enterprise: Enterprise,
    changes: dict[str, Any],
    *,
    actor: str,
    address: str,
    now: dt.datetime,
) -> None:
    """Apply ``changes`` (scope, frequency, quiet_hours, daily_cap, recipients) or raise
    :class:`InputError` naming each bad field; nothing is stored unless all are valid."""
    current = subscription_data(sub, enterprise)
    scope = {**current["scope"], **(changes.get("scope") or {})}
    proposed = {
        "id": enterprise.id,
        "name": enterprise.name,
        "recipients": changes.get("recipients", current["recipients"]),
        "subscriptions": [
            {
                "name": sub.name,
                "scope": scope,
                "frequency": changes.get("frequency", current["frequency"]),
                "quiet_hours": changes.get("quiet_hours", current["quiet_hours"]) or None,
                "daily_cap": changes.get("daily_cap", current["daily_cap"]) or None,
                # a subscription created blank (console) goes live with its first scope
                "active": sub.active or not watches(current["scope"]),
            }
        ],
    }
    try:
        spec = EnterpriseSpec.model_validate(proposed)
    except ValidationError as exc:
        raise InputError(validation_problems(exc), hint="Nothing was changed.") from exc
    values = subscription_values(spec.subscriptions[0])
    before = {k: getattr(sub, k) for k in values}
    for key, value in values.items():
        setattr(sub, key, value)
    sub.updated_at = now
    if list(enterprise.recipients) != spec.recipients:
        enterprise.recipients = list(spec.recipients)
        enterprise.updated_at = now
    audit(
        session,
        actor=actor,
        action="subscription.update",
        target=f"subscription:{sub.id}",
        enterprise_id=enterprise.id,
        detail={
            "before": before,
            "after": values,
            "recipients": spec.recipients,
        },
        address=address,
        now=now,
    )


def split_lines(text: str, *, commas: bool = True) -> list[str]:
    """Form text areas: one value per line (with ``commas``, "," "，" "、" separate too)."""
    out: list[str] = []
    for line in text.replace("\r", "").split("\n"):
        if commas:
            out.extend(p.strip() for p in line.replace("、", ",").replace("，", ",").split(","))
        else:
            out.append(line.strip())
    return [p for p in out if p]

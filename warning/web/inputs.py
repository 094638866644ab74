"""Input no store can hold: refused before any route runs.

PostgreSQL text cannot contain NUL (U+0000) and UTF-8 cannot encode a lone surrogate (a JSON
``"\\ud800"``): such a value in a filter, a form or a body would reach the database and come back
as a 500. One app-wide dependency refuses them as 422 naming the field (``query.rule``,
``path.number``, ``text``, ``scope.keywords``), the same on SQLite as on PostgreSQL.
"""

from __future__ import annotations

from fastapi import Request

from warning.errors import InputError, Problem
from warning.store.models import MAX_ROW_ID
from warning.text import UNSTORABLE_MESSAGE, strings_in, unstorable

FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


async def _submitted(request: Request) -> list[tuple[str, str]]:
    """(field, text) of every query, path, form and JSON key and string value."""
    items: list[tuple[str, str]] = []
    for name, value in request.query_params.multi_items():
        items += [(f"query.{name}", name), (f"query.{name}", value)]
    items += [(f"path.{k}", v) for k, v in request.path_params.items() if isinstance(v, str)]
    ctype = request.headers.get("content-type", "")
    if ctype.startswith(FORM_TYPES):
        form = await request.form()  # cached: the route and the CSRF check read the same form
        for name, item in form.multi_items():
            items.append((name, name))
            if isinstance(item, str):
                items.append((name, item))
    elif "json" in ctype:
        try:
            body = await request.json()
        except ValueError:
            body = None  # not JSON: the route's own validation says so
        items += [(".".join(map(str, p)) or "body", text) for p, text in strings_in(body)]
    return items


async def refuse_unstorable_text(request: Request) -> None:
    """The app-wide dependency: 422 naming each field that holds NUL or a lone surrogate, and
    each numeric path id beyond what an integer key can be (SQLite's driver overflows on it)."""
    problems: list[Problem] = [
        Problem(f"no row has an id beyond {MAX_ROW_ID}", field=f"path.{name}")
        for name, value in request.path_params.items()
        if isinstance(value, str) and value.isdigit() and int(value) > MAX_ROW_ID
    ]
    for field, value in await _submitted(request):
        if unstorable(value) and not any(p.field == field for p in problems):
            problems.append(Problem(UNSTORABLE_MESSAGE, field=field))
    if problems:
        raise InputError(problems, hint="Nothing was stored or searched.")

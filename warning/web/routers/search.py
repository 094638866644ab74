"""Search and screening in the console (pages with filters, report download) and the JSON API
(``GET /api/v1/search``, ``POST /api/v1/screen``) with the CLI's ``--json`` output fields."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, Field

from rules.query import QuerySyntaxError
from warning.dates import parse_date
from warning.errors import InputError, Problem
from warning.legal_status import STATUS_ZH, STATUSES
from warning.search.highlight import highlight_html
from warning.search.report import FREE_ZH, REVIEW_ZH, render_html, render_pdf
from warning.search.screen import ScreenResult, screen, screen_patent
from warning.search.service import KINDS, OFFICES, SORTS, SearchFilters, SearchResult, search
from warning.taxonomy import load_taxonomy
from warning.timefmt import local_today
from warning.web.deps import need, now_of, render, settings_of, store_of
from warning.web.permissions import Principal
from warning.web.routers import NavItem
from warning.web.routers.api import ERRORS, ApiError

router = APIRouter()
api = APIRouter(prefix="/api/v1", tags=["search"])
#: the API's error answers, plus 409: the store or its search index is empty
SEARCH_ERRORS: dict[int | str, dict[str, Any]] = {
    **ERRORS,
    409: {
        "model": ApiError,
        "description": "the store or its search index is empty; the message says how to fill it",
    },
}
NAV = [
    NavItem("专利检索", "/search", "search.use", 30),
    NavItem("风险筛查", "/screen", "search.use", 31),
]


class LegalStatusOut(BaseModel):
    status: str
    event: str | None
    date: dt.date | None


class HitOut(BaseModel):
    number: str
    title: str
    applicants: list[str]
    ipc: list[str]
    sectors: list[str]
    publication_date: dt.date | None
    legal_status: LegalStatusOut
    score: float
    matched_terms: list[str]


class SearchOut(BaseModel):
    total: int
    hits: list[HitOut]


class ScreenHitOut(HitOut):
    similarity: float
    overlap_terms: list[str]


class ScreenOut(BaseModel):
    query: str
    review: list[ScreenHitOut]
    free_to_use: list[ScreenHitOut]


class ScreenIn(BaseModel):
    """Exactly one of ``text`` and ``patent``."""

    text: str | None = Field(default=None, max_length=20_000)
    patent: str | None = Field(default=None, max_length=40)
    sector: str | None = None
    ipc: str | None = Field(default=None, max_length=20)
    limit: int = Field(default=20, ge=1, le=500)


class ScreenForm(BaseModel):
    """The screening form of the console (``POST /screen`` and ``POST /screen/report``): exactly
    one of ``text`` and ``patent`` (checked by the screening itself, naming ``text``)."""

    text: str = Field(default="", max_length=20_000)
    patent: str = Field(default="", max_length=40)
    sector: str = Field(default="", max_length=40)
    ipc: str = Field(default="", max_length=20)
    limit: int = Field(default=20, ge=1, le=200)

    def run(self, request: Request) -> ScreenResult:
        return _run_screen(
            request,
            self.text,
            self.patent,
            sector=_blank(self.sector),
            ipc=_blank(self.ipc),
            limit=self.limit,
        )

    def shown(self) -> dict[str, Any]:
        """The fields as the page shows them again (the CSRF token is no field of the form)."""
        return self.model_dump(include={"text", "patent", "sector", "ipc", "limit"})


class ScreenReportForm(ScreenForm):
    """The screening form plus the report's format."""

    format: str = Field(default="pdf", pattern="^(pdf|html)$")


def _blank(value: str | None) -> str | None:
    return value.strip() or None if value else None


def _today(request: Request) -> dt.date:
    """The bureau's date: legal status and the report's date are judged on it."""
    return local_today(settings_of(request).tz, now_of(request))


def _run_search(
    request: Request, query: str, filters: SearchFilters, limit: int, sort: str
) -> SearchResult:
    try:
        return search(
            store_of(request), query, filters, limit=limit, sort=sort, today=_today(request)
        )
    except QuerySyntaxError as exc:
        raise InputError([Problem(str(exc), field="query")]) from exc


def _run_screen(request: Request, text: str | None, patent: str | None, **kw: Any) -> ScreenResult:
    text, patent = _blank(text), _blank(patent)
    if bool(text) == bool(patent):
        raise InputError([Problem("give exactly one of text or patent", field="text")])
    today = _today(request)
    if patent:
        return screen_patent(store_of(request), patent, today=today, **kw)
    return screen(store_of(request), text or "", today=today, **kw)


def _form_options() -> dict[str, Any]:
    taxonomy = load_taxonomy()
    return {
        "sectors": [(s.id, s.name_zh) for s in taxonomy.sectors],
        "offices": OFFICES,
        "kinds": KINDS,
        "statuses": [(s, STATUS_ZH[s]) for s in STATUSES],
        "sorts": SORTS,
    }


@router.get("/search", include_in_schema=False)
def search_page(
    request: Request,
    query: Annotated[str, Query(max_length=2000)] = "",
    sector: str = "",
    subfield: str = "",
    ipc: str = "",
    applicant: str = "",
    office: str = "",
    kind: str = "",
    since: Annotated[str, Query(max_length=10)] = "",
    until: Annotated[str, Query(max_length=10)] = "",
    status: str = "",
    sort: str = "relevance",
    limit: Annotated[int, Query(ge=1, le=200)] = 20,
    principal: Principal = need("search.use"),
) -> Response:
    params = {
        "query": query,
        "sector": sector,
        "subfield": subfield,
        "ipc": ipc,
        "applicant": applicant,
        "office": office,
        "kind": kind,
        "since": since,
        "until": until,
        "status": status,
        "sort": sort,
        "limit": limit,
    }
    data: dict[str, Any] = {"params": params, "total": None, "hits": []}
    if query.strip():
        filters = SearchFilters(
            sector=_blank(sector),
            subfield=_blank(subfield),
            ipc=_blank(ipc),
            applicant=_blank(applicant),
            office=_blank(office),
            kind=_blank(kind),
            since=parse_date(since, "since"),
            until=parse_date(until, "until"),
            status=_blank(status),
        )
        result = _run_search(request, query, filters, limit, sort)
        data["total"] = result.total
        data["hits"] = [
            h.as_json()
            | {
                "title_html": str(highlight_html(h.title, h.matched_terms)),
                "status_zh": STATUS_ZH[h.legal_status.status],
            }
            for h in result.hits
        ]
    return render(
        request, "search/search.html", data | {"options": _form_options()}, principal=principal
    )


def _screen_data(result: ScreenResult) -> dict[str, Any]:
    def rows(group: list[Any]) -> list[dict[str, Any]]:
        return [
            s.as_json()
            | {
                "status_zh": STATUS_ZH[s.hit.legal_status.status],
                "free_since": s.hit.legal_status.since if s.hit.legal_status.is_free else None,
            }
            for s in group
        ]

    cov = result.coverage
    return {
        "query": result.query,
        "subject": result.subject,
        "review": rows(result.review),
        "free_to_use": rows(result.free_to_use),
        "coverage": {
            "documents": cov.documents if cov else 0,
            "first": cov.first if cov else None,
            "last": cov.last if cov else None,
            "sources": [
                {"source": s[0], "documents": s[1], "first": s[2], "last": s[3]}
                for s in (cov.sources if cov else [])
            ],
        },
        "screened_at": result.screened_at,
        "candidates": result.candidates,
    }


def _screen_page(request: Request, principal: Principal, form: ScreenForm) -> Response:
    result = None if request.method == "GET" else _screen_data(form.run(request))
    return render(
        request,
        "search/screen.html",
        {"form": form.shown(), "result": result}
        | {"options": _form_options(), "groups": (REVIEW_ZH, FREE_ZH)},
        principal=principal,
    )


@router.get("/screen", include_in_schema=False)
def screen_form(request: Request, principal: Principal = need("search.use")) -> Response:
    return _screen_page(request, principal, ScreenForm())


@router.post("/screen", include_in_schema=False)
def screen_submit(
    request: Request,
    form: Annotated[ScreenForm, Form()],
    principal: Principal = need("search.use"),
) -> Response:
    return _screen_page(request, principal, form)


@router.post("/screen/report", include_in_schema=False)
def screen_report(
    request: Request,
    form: Annotated[ScreenReportForm, Form()],
    _: Principal = need("search.use"),
) -> Response:
    """The screening report as a download (the same report `ipwarn screen --report` writes)."""
    import tempfile
    from pathlib import Path

    result = form.run(request)
    name = f"screening-{result.screened_on.isoformat()}.{form.format}"
    headers = {"Content-Disposition": f'attachment; filename="{name}"'}
    if form.format == "html":
        return Response(render_html(result), media_type="text/html; charset=utf-8", headers=headers)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / name
        render_pdf(result, path)
        return Response(path.read_bytes(), media_type="application/pdf", headers=headers)


@api.get("/search", response_model=SearchOut, responses=SEARCH_ERRORS)
def api_search(
    request: Request,
    query: Annotated[str, Query(min_length=1, max_length=2000)],
    sector: str | None = None,
    subfield: str | None = None,
    ipc: str | None = None,
    applicant: str | None = None,
    office: str | None = None,
    kind: str | None = None,
    since: dt.date | None = None,
    until: dt.date | None = None,
    status: str | None = None,
    sort: str = "relevance",
    limit: Annotated[int, Query(ge=1, le=1000)] = 20,
    _: Principal = need("search.use"),
) -> dict[str, Any]:
    """Search stored documents; the output of `ipwarn search --json`."""
    filters = SearchFilters(
        sector=sector,
        subfield=subfield,
        ipc=ipc,
        applicant=applicant,
        office=office,
        kind=kind,
        since=since,
        until=until,
        status=status,
    )
    return _run_search(request, query, filters, limit, sort).as_json()


@api.post("/screen", response_model=ScreenOut, responses=SEARCH_ERRORS)
def api_screen(
    request: Request, body: ScreenIn, _: Principal = need("search.use")
) -> dict[str, Any]:
    """Screen a text or a stored patent; the output of `ipwarn screen --json`."""
    result = _run_screen(
        request, body.text, body.patent, sector=body.sector, ipc=body.ipc, limit=body.limit
    )
    return result.as_json()


router.include_router(api)

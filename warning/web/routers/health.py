"""``/healthz``: 200 when the database answers, 503 otherwise (for load balancers)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from warning.errors import StoreError
from warning.web.deps import public, store_of

router = APIRouter(tags=["health"])


class Health(BaseModel):
    status: str
    database: str


@router.get("/healthz", response_model=Health, responses={503: {"model": Health}})
async def healthz(request: Request, _: object = public("probe")) -> JSONResponse:
    store = store_of(request)
    try:
        store.check()
    except StoreError:
        return JSONResponse({"status": "unavailable", "database": "unreachable"}, status_code=503)
    return JSONResponse({"status": "ok", "database": store.dialect})

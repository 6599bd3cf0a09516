"""Liveness, readiness and metrics endpoints (no authentication)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, PlainTextResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError
from starlette.concurrency import run_in_threadpool

from service.config import ConfigError
from service.db import Database
from service.errors import problem
from service.migrate import ensure_current

router = APIRouter(tags=["health"])


@router.get("/healthz", summary="Liveness: the process is up")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get(
    "/readyz",
    summary="Readiness: the database answers and its schema is current",
    responses={503: {"description": "Not ready; the problem says why."}},
)
async def readyz(request: Request) -> JSONResponse:
    database: Database = request.app.state.database

    def check() -> None:
        with database.engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        ensure_current(database.engine)

    try:
        await run_in_threadpool(check)
    except (SQLAlchemyError, ConfigError) as exc:
        detail = str(exc).splitlines()[0]
        return problem(503, "not-ready", "Not ready", detail, request.url.path)
    return JSONResponse({"status": "ready", "database": database.url.get_backend_name()})


@router.get("/metrics", summary="Prometheus metrics", response_class=PlainTextResponse)
def metrics(request: Request) -> PlainTextResponse:
    # A plain def runs in the thread pool: the CT collector reads the database.
    registry = request.app.state.metrics.registry
    return PlainTextResponse(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

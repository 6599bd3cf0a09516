"""Domain errors and their one translation into RFC 9457 problem+json responses."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy.exc import OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException

log = logging.getLogger(__name__)

PROBLEM_JSON = "application/problem+json"
PROBLEM_BASE = "https://phantomwatch.dev/problems/"


class PhantomWatchError(Exception):
    """Base of every error the API turns into a problem response."""

    status = 500
    slug = "internal"
    title = "Internal error"

    def __init__(self, detail: str, **extra: Any) -> None:
        super().__init__(detail)
        self.detail = detail
        self.extra = extra


class BadRequest(PhantomWatchError):
    status, slug, title = 400, "bad-request", "Bad request"


class Unauthorized(PhantomWatchError):
    status, slug, title = 401, "unauthorized", "Authentication required"


class Forbidden(PhantomWatchError):
    status, slug, title = 403, "forbidden", "Insufficient scope"


class NotFound(PhantomWatchError):
    status, slug, title = 404, "not-found", "Not found"


class Conflict(PhantomWatchError):
    status, slug, title = 409, "conflict", "Conflict"


class InvalidTransition(Conflict):
    slug, title = "invalid-transition", "Status change not allowed"


class ValidationFailed(PhantomWatchError):
    status, slug, title = 422, "validation", "Invalid input"


def reject_nulls(model: BaseModel, nullable: frozenset[str] = frozenset()) -> None:
    """PATCH bodies: omit a field to keep it; null is only allowed where it clears a value."""
    bad = sorted(
        name
        for name in model.model_fields_set
        if getattr(model, name) is None and name not in nullable
    )
    if bad:
        raise ValueError(f"{', '.join(bad)} cannot be null (omit a field to keep its value)")


def problem(
    status: int, slug: str, title: str, detail: str, instance: str, **extra: Any
) -> JSONResponse:
    """Build a problem+json response."""
    body: dict[str, Any] = {
        "type": PROBLEM_BASE + slug,
        "title": title,
        "status": status,
        "detail": detail,
        "instance": instance,
    }
    body.update(extra)
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def _field_path(loc: tuple[Any, ...] | list[Any]) -> str:
    return ".".join(str(part) for part in loc if part not in ("body", "query", "path"))


def install_error_handlers(app: FastAPI) -> None:
    """Route every error the API raises through problem+json."""

    @app.exception_handler(PhantomWatchError)
    async def _domain_error(request: Request, exc: PhantomWatchError) -> JSONResponse:
        return problem(exc.status, exc.slug, exc.title, exc.detail, request.url.path, **exc.extra)

    @app.exception_handler(RequestValidationError)
    async def _validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [
            {"field": _field_path(err.get("loc", ())), "message": str(err.get("msg", ""))}
            for err in exc.errors()
        ]
        detail = "; ".join(
            f"{e['field']}: {e['message']}" if e["field"] else e["message"] for e in errors
        )
        return problem(422, "validation", "Invalid input", detail, request.url.path, errors=errors)

    @app.exception_handler(OperationalError)
    async def _database_unavailable(request: Request, exc: OperationalError) -> JSONResponse:
        log.warning("database unavailable: %s", str(exc).splitlines()[0])
        response = problem(
            503,
            "database-unavailable",
            "Database unavailable",
            "the database is busy or unreachable; retry shortly",
            request.url.path,
        )
        response.headers["Retry-After"] = "2"
        return response

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return problem(
            500,
            "internal",
            "Internal error",
            "an unexpected error occurred; it was logged",
            request.url.path,
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        titles = {404: "Not found", 405: "Method not allowed"}
        title = titles.get(exc.status_code, "HTTP error")
        slug = title.lower().replace(" ", "-")
        return problem(exc.status_code, slug, title, str(exc.detail), request.url.path)

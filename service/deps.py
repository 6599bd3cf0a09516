"""FastAPI dependencies: the request's database session (which owns the commit) and the caller."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session

from service.auth.service import Scope, authenticate, effective_scopes
from service.config import Settings
from service.db import Database
from service.errors import Forbidden, Unauthorized


def get_database(request: Request) -> Database:
    db: Database = request.app.state.database
    return db


def get_settings_dep(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def _session(db: Annotated[Database, Depends(get_database)]) -> Iterator[Session]:
    # Committed when the endpoint returns, before the response is sent, so a
    # failed commit becomes an error response instead of a silent loss.
    with db.session() as session:
        yield session


DbSession = Annotated[Session, Depends(_session, scope="function")]
AppSettings = Annotated[Settings, Depends(get_settings_dep)]

_bearer = HTTPBearer(auto_error=False, description="`Authorization: Bearer pw_...`")
_header = APIKeyHeader(name="X-API-Key", auto_error=False, description="`X-API-Key: pw_...`")


@dataclass(frozen=True)
class Caller:
    """The authenticated API key behind a request."""

    key_id: int
    name: str
    scopes: frozenset[Scope]


def require(scope: Scope) -> Callable[..., Caller]:
    """A dependency that authenticates the request and demands a scope."""

    def dependency(
        session: DbSession,
        bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
        header_key: Annotated[str | None, Depends(_header)],
    ) -> Caller:
        presented = bearer.credentials if bearer is not None else header_key
        if not presented:
            raise Unauthorized("send an API key as `Authorization: Bearer <key>` or `X-API-Key`")
        key = authenticate(session, presented)
        granted = frozenset(effective_scopes(key.scopes))
        if scope not in granted:
            raise Forbidden(f"this API key lacks the {scope.value!r} scope")
        return Caller(key_id=key.id, name=key.name, scopes=granted)

    return dependency


ReadCaller = Annotated[Caller, Depends(require(Scope.READ))]
WriteCaller = Annotated[Caller, Depends(require(Scope.WRITE))]
AdminCaller = Annotated[Caller, Depends(require(Scope.ADMIN))]

"""HTTP routes to manage API keys (admin scope)."""

from __future__ import annotations

from fastapi import APIRouter, status

from service.auth import service
from service.auth.schemas import ApiKeyCreate, ApiKeyCreated, ApiKeyOut
from service.deps import AdminCaller, DbSession
from service.ids import PathId

router = APIRouter(prefix="/v1/keys", tags=["keys"])


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=ApiKeyCreated,
    summary="Create an API key",
    description="Returns the secret once; only its hash is stored.",
)
def create_key(body: ApiKeyCreate, session: DbSession, _: AdminCaller) -> ApiKeyCreated:
    key, plaintext = service.create_key(session, body.name, [s.value for s in body.scopes])
    return ApiKeyCreated.model_validate(
        {**ApiKeyOut.model_validate(key).model_dump(), "key": plaintext}
    )


@router.get("", response_model=list[ApiKeyOut], summary="List API keys")
def list_keys(session: DbSession, _: AdminCaller, include_revoked: bool = False) -> list[ApiKeyOut]:
    return [ApiKeyOut.model_validate(k) for k in service.list_keys(session, include_revoked)]


@router.delete(
    "/{key_id}",
    response_model=ApiKeyOut,
    summary="Revoke an API key",
    description="The key stops working at once. Revoking a revoked key is a no-op.",
)
def revoke_key(key_id: PathId, session: DbSession, _: AdminCaller) -> ApiKeyOut:
    return ApiKeyOut.model_validate(service.revoke_key(session, key_id))

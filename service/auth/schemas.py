"""Request and response bodies of the API key endpoints."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from service.auth.service import Scope


class ApiKeyCreate(BaseModel):
    name: str = Field(min_length=1, max_length=200, description="Who or what uses the key.")
    scopes: list[Scope] = Field(
        min_length=1,
        description="`read` lists and gets; `write` also changes alerts; `admin` also manages "
        "brands and keys. Each scope includes the ones before it.",
    )


class ApiKeyOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int = Field(description="Numeric id, used to revoke the key.")
    name: str
    key_id: str = Field(description="Public part of the key (after `pw_`), safe to log.")
    scopes: list[str]
    created_at: datetime
    last_used_at: datetime | None = Field(description="Last use, to the minute.")
    revoked_at: datetime | None


class ApiKeyCreated(ApiKeyOut):
    key: str = Field(description="The secret key. Shown once: store it now.")

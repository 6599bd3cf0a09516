"""Request and response bodies of the watch list endpoints."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class WatchEntryOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    domain: str = Field(description="Watched registrable domain (ASCII).")
    unicode: str
    origin: str = Field(
        description="`generated` (predicted by the engine), `user` (added by hand) or "
        "`phantom` (invented by an LLM)."
    )
    technique: str | None = Field(description="Lookalike technique the name represents.")
    predicted_score: int | None = Field(description="Engine score of the name for the brand.")
    state: str = Field(
        description="`unknown` (not checked, or DNS could not tell), `free` or `registered`."
    )
    last_checked_at: datetime | None
    next_check_at: datetime
    registered_at: datetime | None = Field(description="When it was seen going free -> registered.")
    last_detail: str | None = Field(description="What the last DNS check saw.")
    created_at: datetime


class WatchAdd(BaseModel):
    model_config = ConfigDict(extra="forbid")

    domains: list[str] = Field(
        min_length=1, max_length=1000, description="Domains to watch (their registrable part)."
    )


WatchState = Literal["unknown", "free", "registered"]

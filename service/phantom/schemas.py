"""Response bodies of the phantom endpoints."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class PhantomCandidateOut(BaseModel):
    domain: str = Field(description="Registrable domain the models named (not the brand's).")
    hosts: list[str] = Field(description="Host names seen under it (`login.acme-help.com`).")
    models: list[str] = Field(description="Models that produced it.")
    intents: list[str] = Field(description="Questions that produced it (login, docs, api, ...).")
    mentions: int
    samples_with: int = Field(description="Answers naming it.")
    total_samples: int = Field(description="Answers collected in the runs that named it.")
    frequency: float = Field(description="samples_with / total_samples.")
    rank_score: float = Field(description="How often and how consistently models produce it.")
    registration_state: str | None = Field(
        description="`free`, `registered` or `unknown` from the registration watch; null if "
        "not watched (below the watch cut-off)."
    )
    first_seen: datetime
    last_seen: datetime


class ModelStatsOut(BaseModel):
    model: str
    answers: int
    answers_with_non_brand_domain: int
    share_non_brand: float = Field(
        description="Share of answers sending users to a non-brand domain."
    )
    distinct_non_brand: int = Field(description="Distinct non-brand domains it produced.")
    share_unregistered: float | None = Field(
        description="Of its checked phantom names, the share still free to register (the risk)."
    )


class PhantomRunOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    status: str = Field(description="`running`, `done` or `failed`.")
    started_at: datetime
    finished_at: datetime | None
    requests_made: int
    samples: int
    budget_exhausted: bool
    candidates_found: int
    errors: list[dict[str, Any]]


class PhantomReport(BaseModel):
    candidates: list[PhantomCandidateOut]
    models: list[ModelStatsOut]
    runs: list[PhantomRunOut] = Field(description="Latest probe runs, newest first.")

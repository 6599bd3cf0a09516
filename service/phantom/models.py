"""Probe runs and the hallucinated names they found, per brand."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from service.db import Base, utcnow


class PhantomRun(Base):
    """One probe of one brand: what was asked, what it cost, what each model said."""

    __tablename__ = "phantom_runs"

    id: Mapped[int] = mapped_column(primary_key=True)
    brand_id: Mapped[int] = mapped_column(ForeignKey("brands.id", ondelete="CASCADE"), index=True)
    status: Mapped[str] = mapped_column(String(16), default="running")  # running, done, failed
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None]
    requests_made: Mapped[int] = mapped_column(default=0)
    samples: Mapped[int] = mapped_column(default=0)
    budget_exhausted: Mapped[bool] = mapped_column(default=False)
    candidates_found: Mapped[int] = mapped_column(default=0)
    model_stats: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    errors: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)


class PhantomCandidate(Base):
    """A domain LLMs name for a brand that the brand does not own, across all runs."""

    __tablename__ = "phantom_candidates"
    __table_args__ = (
        UniqueConstraint("brand_id", "domain", name="uq_phantom_candidates_brand_domain"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    brand_id: Mapped[int] = mapped_column(ForeignKey("brands.id", ondelete="CASCADE"))
    domain: Mapped[str] = mapped_column(String(253))
    hosts: Mapped[list[str]] = mapped_column(JSON)
    models: Mapped[list[str]] = mapped_column(JSON)
    intents: Mapped[list[str]] = mapped_column(JSON)
    mentions: Mapped[int] = mapped_column(default=0)
    samples_with: Mapped[int] = mapped_column(default=0)
    total_samples: Mapped[int] = mapped_column(default=0)
    rank_score: Mapped[float] = mapped_column(default=0.0)
    first_seen: Mapped[datetime] = mapped_column(default=utcnow)
    last_seen: Mapped[datetime] = mapped_column(default=utcnow)

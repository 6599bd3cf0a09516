"""Watched names per brand, and DNS snapshots of alerted domains."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from service.db import Base, JSONType, utcnow

BigId = BigInteger().with_variant(Integer(), "sqlite")


class WatchEntry(Base):
    """A domain checked for registration on a schedule (free -> registered raises an alert)."""

    __tablename__ = "watch_entries"
    __table_args__ = (
        UniqueConstraint("brand_id", "domain", name="uq_watch_entries_brand_domain"),
        Index("ix_watch_entries_next_check_at", "next_check_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    brand_id: Mapped[int] = mapped_column(ForeignKey("brands.id", ondelete="CASCADE"))
    domain: Mapped[str] = mapped_column(String(253))
    unicode: Mapped[str] = mapped_column(String(1024))
    # generated (engine's prediction), user (added by hand), phantom (LLM-hallucinated)
    origin: Mapped[str] = mapped_column(String(16))
    technique: Mapped[str | None] = mapped_column(String(64))
    predicted_score: Mapped[int | None]
    state: Mapped[str] = mapped_column(String(16), default="unknown")
    last_checked_at: Mapped[datetime | None]
    next_check_at: Mapped[datetime] = mapped_column(default=utcnow)
    registered_at: Mapped[datetime | None]
    # The current free spell: first and latest check that saw the name free. A later
    # registration happened between free_until and the check that saw it.
    free_since: Mapped[datetime | None]
    free_until: Mapped[datetime | None]
    last_detail: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Set when a user removes a name: the row stays so neither the hourly refresh nor the
    # phantom probe adds it again; hidden, never checked, revived if the user adds it back.
    removed_at: Mapped[datetime | None]


class DnsSnapshot(Base):
    """What DNS said about an alerted domain at one time, and what changed since the last look."""

    __tablename__ = "dns_snapshots"
    __table_args__ = (Index("ix_dns_snapshots_alert_taken", "alert_id", "taken_at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    alert_id: Mapped[int] = mapped_column(BigId, ForeignKey("alerts.id", ondelete="CASCADE"))
    taken_at: Mapped[datetime] = mapped_column(default=utcnow)
    state: Mapped[str] = mapped_column(String(16))
    data: Mapped[dict[str, Any]] = mapped_column(JSONType)
    changes: Mapped[list[str]] = mapped_column(JSONType)

"""The ct_logs table (one row per log: cursor, compact range, verified head, health, lease)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from service.db import Base, JSONType, utcnow

BigId = BigInteger().with_variant(Integer(), "sqlite")


class CtLog(Base):
    """A CT log PhantomWatch reads, with everything needed to resume and verify."""

    __tablename__ = "ct_logs"

    id: Mapped[int] = mapped_column(primary_key=True)
    log_id: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    operator: Mapped[str] = mapped_column(String(200))
    protocol: Mapped[str] = mapped_column(String(16))
    url: Mapped[str] = mapped_column(String(500))
    submission_url: Mapped[str | None] = mapped_column(String(500))
    key: Mapped[str] = mapped_column(Text)  # base64 DER SubjectPublicKeyInfo
    mmd: Mapped[int] = mapped_column(default=86400)
    list_state: Mapped[str] = mapped_column(String(16))
    enabled: Mapped[bool] = mapped_column(default=True)
    # Cursor: every entry below next_index has been processed, in order.
    next_index: Mapped[int] = mapped_column(BigInteger, default=0)
    # Right-edge subtree hashes of entries [0, next_index), null until known.
    compact_range: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    verified_head: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    latest_head: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    entries_processed: Mapped[int] = mapped_column(BigInteger, default=0)
    names_scored: Mapped[int] = mapped_column(BigInteger, default=0)
    malformed_entries: Mapped[int] = mapped_column(BigInteger, default=0)
    # Throughput of the last poll that read entries.
    entries_per_second: Mapped[float | None]
    healthy: Mapped[bool] = mapped_column(default=True)
    health_detail: Mapped[str | None] = mapped_column(Text)
    last_error: Mapped[str | None] = mapped_column(Text)
    last_error_at: Mapped[datetime | None]
    last_success_at: Mapped[datetime | None]
    # Per-log lease so several workers never read the same log at once.
    lease_owner: Mapped[str | None] = mapped_column(String(100))
    lease_until: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class CtMalformedEntry(Base):
    """An entry that could not be parsed: recorded and skipped, never fatal."""

    __tablename__ = "ct_malformed_entries"
    __table_args__ = (Index("ix_ct_malformed_entries_log_index", "log_id", "entry_index"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    log_id: Mapped[int] = mapped_column(ForeignKey("ct_logs.id", ondelete="CASCADE"))
    entry_index: Mapped[int] = mapped_column(BigInteger)
    reason: Mapped[str] = mapped_column(Text)
    recorded_at: Mapped[datetime] = mapped_column(default=utcnow)

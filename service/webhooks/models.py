"""Webhook subscriptions, the delivery outbox and the log of every delivery attempt."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from service.db import Base, JSONType, utcnow

BigId = BigInteger().with_variant(Integer(), "sqlite")


class WebhookSubscription(Base):
    """Where to push which alert events, in which format."""

    __tablename__ = "webhook_subscriptions"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    target: Mapped[str] = mapped_column(String(2000))
    format: Mapped[str] = mapped_column(String(16))
    event_types: Mapped[list[str]] = mapped_column(JSON)
    brand_ids: Mapped[list[int]] = mapped_column(JSON)
    min_severity: Mapped[str | None] = mapped_column(String(16))
    min_score: Mapped[int | None]
    techniques: Mapped[list[str]] = mapped_column(JSON)
    # [{"secret": "whsec_...", "expires_at": iso | null}]: several during a rotation overlap.
    secrets: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    enabled: Mapped[bool] = mapped_column(default=True)
    paused_at: Mapped[datetime | None]
    paused_reason: Mapped[str | None] = mapped_column(Text)
    consecutive_failures: Mapped[int] = mapped_column(default=0)
    # Lease so one worker at a time delivers a subscription's events, in order.
    leased_by: Mapped[str | None] = mapped_column(String(100))
    lease_until: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class WebhookDelivery(Base):
    """One event for one subscription: written with the alert change, sent by the worker."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        Index("ix_webhook_deliveries_subscription_status_id", "subscription_id", "status", "id"),
        Index("ix_webhook_deliveries_status_next_attempt", "status", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    subscription_id: Mapped[int] = mapped_column(
        ForeignKey("webhook_subscriptions.id", ondelete="CASCADE")
    )
    event_id: Mapped[str] = mapped_column(String(64))
    event_type: Mapped[str] = mapped_column(String(32))
    event_time: Mapped[datetime]
    data: Mapped[dict[str, Any]] = mapped_column(JSONType)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_status_code: Mapped[int | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    delivered_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    attempt_log: Mapped[list[WebhookAttempt]] = relationship(
        cascade="all, delete-orphan", lazy="raise", order_by="WebhookAttempt.id"
    )


class WebhookAttempt(Base):
    """One try at sending a delivery: what the receiver answered and how fast."""

    __tablename__ = "webhook_attempts"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    delivery_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("webhook_deliveries.id", ondelete="CASCADE"), index=True
    )
    attempted_at: Mapped[datetime] = mapped_column(default=utcnow)
    status_code: Mapped[int | None]
    latency_ms: Mapped[float | None]
    response_excerpt: Mapped[str | None] = mapped_column(Text)
    error: Mapped[str | None] = mapped_column(Text)

"""Alert, alert technique and alert event tables."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from service.brands.models import Brand
from service.db import Base, JSONType, utcnow

# SQLite only auto-increments INTEGER PRIMARY KEY; PostgreSQL gets a 64-bit id.
BigId = BigInteger().with_variant(Integer(), "sqlite")


class AlertStatus(enum.StrEnum):
    """Lifecycle of an alert."""

    NEW = "new"
    TRIAGED = "triaged"
    CONFIRMED = "confirmed"
    FALSE_POSITIVE = "false_positive"
    TAKEDOWN_REQUESTED = "takedown_requested"
    RESOLVED = "resolved"


class AlertSource(enum.StrEnum):
    """Where the evidence for an alert came from."""

    CT = "ct"
    DNS = "dns"
    FEED = "feed"
    PHANTOM = "phantom"
    MANUAL = "manual"


class Severity(enum.StrEnum):
    """Severity bands, ordered from least to most urgent."""

    NONE = "none"
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"

    @property
    def rank(self) -> int:
        return list(Severity).index(self)


class EventKind(enum.StrEnum):
    """What an alert event records."""

    CREATED = "created"
    EVIDENCE_ADDED = "evidence_added"
    STATUS_CHANGED = "status_changed"


class Alert(Base):
    """A domain that imitates a brand, with its score, reasons and lifecycle status."""

    __tablename__ = "alerts"
    __table_args__ = (
        UniqueConstraint("brand_id", "domain", name="uq_alerts_brand_domain"),
        Index("ix_alerts_first_seen_id", "first_seen", "id"),
        Index("ix_alerts_last_seen_id", "last_seen", "id"),
        Index("ix_alerts_score_id", "score", "id"),
        Index("ix_alerts_brand_first_seen_id", "brand_id", "first_seen", "id"),
        Index("ix_alerts_status_first_seen_id", "status", "first_seen", "id"),
        Index("ix_alerts_severity_first_seen_id", "severity_rank", "first_seen", "id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    brand_id: Mapped[int] = mapped_column(ForeignKey("brands.id"))
    domain: Mapped[str] = mapped_column(String(253))
    registrable: Mapped[str | None] = mapped_column(String(253))
    unicode: Mapped[str] = mapped_column(String(1024))
    score: Mapped[int]
    severity: Mapped[str] = mapped_column(String(16))
    # Numeric twin of severity so "at least high" is an index range.
    severity_rank: Mapped[int]
    reasons: Mapped[list[dict[str, Any]]] = mapped_column(JSONType)
    source: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(32), default=AlertStatus.NEW.value)
    first_seen: Mapped[datetime] = mapped_column(default=utcnow)
    last_seen: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    # Latest DNS enrichment: state (resolves, nxdomain, nodata, unknown) and when.
    dns_state: Mapped[str | None] = mapped_column(String(16), default=None)
    dns_checked_at: Mapped[datetime | None] = mapped_column(default=None, index=True)
    # Until when a worker holds the alert for a DNS check (others skip it; past: free again).
    dns_claimed_until: Mapped[datetime | None] = mapped_column(default=None)

    brand: Mapped[Brand] = relationship(lazy="selectin")
    techniques: Mapped[list[AlertTechnique]] = relationship(
        cascade="all, delete-orphan", lazy="selectin", order_by="AlertTechnique.technique"
    )
    events: Mapped[list[AlertEvent]] = relationship(
        cascade="all, delete-orphan", lazy="raise", order_by="AlertEvent.id"
    )

    @property
    def brand_name(self) -> str:
        return self.brand.name

    @property
    def technique_names(self) -> list[str]:
        return [t.technique for t in self.techniques]


class AlertTechnique(Base):
    """One detection technique of an alert; a table so technique filters use an index."""

    __tablename__ = "alert_techniques"
    __table_args__ = (Index("ix_alert_techniques_technique_alert", "technique", "alert_id"),)

    alert_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("alerts.id", ondelete="CASCADE"), primary_key=True
    )
    technique: Mapped[str] = mapped_column(String(64), primary_key=True)


class AlertEvent(Base):
    """An entry of an alert's audit trail."""

    __tablename__ = "alert_events"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    alert_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("alerts.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[str] = mapped_column(String(32))
    actor: Mapped[str | None] = mapped_column(String(200))
    from_status: Mapped[str | None] = mapped_column(String(32))
    to_status: Mapped[str | None] = mapped_column(String(32))
    note: Mapped[str | None] = mapped_column(Text)
    data: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

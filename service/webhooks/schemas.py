"""Request and response bodies of the webhook endpoints."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from service.alerts.models import Severity
from service.errors import reject_nulls
from service.ids import BigId, Id
from service.webhooks.events import ALERT_EVENT_TYPES, EventType

Format = Literal["json", "splunk", "cef"]
ALL_ALERT_EVENTS: list[EventType] = list(ALERT_EVENT_TYPES)

TARGET_DOC = (
    "`https://...` (or `http://`) for `json` and `splunk`; `udp://host:port`, "
    "`tcp://host:port` or `tls://host:port` for `cef` over syslog."
)
FORMAT_DOC = (
    "`json`: Standard Webhooks (signed JSON); `splunk`: Splunk HTTP Event Collector; "
    "`cef`: CEF over RFC 5424 syslog."
)


class WebhookFilters(BaseModel):
    event_types: list[EventType] = Field(
        default_factory=lambda: list(ALL_ALERT_EVENTS),
        min_length=1,
        description="Events to deliver.",
    )
    brand_ids: list[Id] = Field(default_factory=list, description="Only these brands; [] = all.")
    min_severity: Severity | None = Field(None, description="Only alerts this severe or worse.")
    min_score: int | None = Field(None, ge=0, le=100, description="Only alerts scoring at least.")
    techniques: list[str] = Field(
        default_factory=list, description="Only alerts with one of these techniques; [] = all."
    )


class WebhookCreate(WebhookFilters):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200, description="Who receives it.")
    target: str = Field(min_length=1, max_length=2000, description=TARGET_DOC)
    format: Format = Field("json", description=FORMAT_DOC)
    splunk_token: str | None = Field(
        None, max_length=200, description="HEC token, required for the `splunk` format."
    )
    enabled: bool = True


class WebhookUpdate(BaseModel):
    """Fields to change; omitted fields keep their value."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(None, min_length=1, max_length=200)
    target: str | None = Field(None, min_length=1, max_length=2000, description=TARGET_DOC)
    event_types: list[EventType] | None = Field(None, min_length=1)
    brand_ids: list[Id] | None = None
    min_severity: Severity | None = None
    min_score: int | None = Field(None, ge=0, le=100)
    techniques: list[str] | None = None
    splunk_token: str | None = Field(None, max_length=200)
    enabled: bool | None = None
    resume: bool | None = Field(
        None, description="true: clear a pause after repeated failures and retry at once."
    )

    @model_validator(mode="after")
    def _no_nulls(self) -> WebhookUpdate:
        reject_nulls(self, nullable=frozenset({"min_severity", "min_score"}))
        return self


class WebhookOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    target: str
    format: str
    event_types: list[str]
    brand_ids: list[int]
    min_severity: str | None
    min_score: int | None
    techniques: list[str]
    enabled: bool
    paused_at: datetime | None = Field(description="Set when repeated failures paused delivery.")
    paused_reason: str | None
    consecutive_failures: int
    created_at: datetime
    updated_at: datetime


class WebhookCreated(WebhookOut):
    secret: str | None = Field(
        description="Signing secret (`whsec_...`) of a `json` subscription. Shown once."
    )


class RotateSecret(BaseModel):
    model_config = ConfigDict(extra="forbid")

    overlap_seconds: int = Field(
        86400,
        ge=0,
        le=30 * 86400,
        description="How long the old secret keeps signing too (receivers accept either).",
    )


class SecretRotated(BaseModel):
    secret: str = Field(description="The new signing secret. Shown once.")
    previous_expires_at: datetime = Field(description="When the previous secret stops signing.")


class AttemptOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    attempted_at: datetime
    status_code: int | None
    latency_ms: float | None
    response_excerpt: str | None
    error: str | None


class DeliveryOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    event_id: str = Field(description="Stable per event: the `webhook-id` receivers dedupe on.")
    event_type: str
    event_time: datetime
    status: str = Field(description="`pending`, `delivered` or `dead` (gave up).")
    attempts: int
    next_attempt_at: datetime
    last_status_code: int | None
    last_error: str | None
    delivered_at: datetime | None
    attempt_log: list[AttemptOut] = Field(description="Every attempt, oldest first.")


class Redeliver(BaseModel):
    model_config = ConfigDict(extra="forbid")

    delivery_ids: list[BigId] = Field(
        default_factory=list, max_length=10000, description="These deliveries; [] = by status."
    )
    status: Literal["dead", "delivered", "any"] = Field(
        "dead", description="With no ids: redeliver every delivery in this state."
    )
    since: datetime | None = Field(None, description="With no ids: only events at/after this.")


class RedeliverResult(BaseModel):
    queued: int = Field(description="Deliveries put back in the queue.")


class ProbeResult(BaseModel):
    ok: bool
    status_code: int | None
    latency_ms: float | None
    response_excerpt: str | None
    error: str | None

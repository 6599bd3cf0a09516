"""Request and response bodies of the alert endpoints."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from service.alerts.models import AlertStatus
from service.ids import BigId, Id


class AlertEventOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    kind: str = Field(description="`created`, `evidence_added` or `status_changed`.")
    actor: str | None = Field(description="Name of the API key (or `system`) that caused it.")
    from_status: str | None
    to_status: str | None
    note: str | None
    data: dict[str, Any] | None = Field(description="Evidence: source, score, new reasons.")
    created_at: datetime


class AlertOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    brand_id: int
    brand: str = Field(validation_alias="brand_name", description="Name of the imitated brand.")
    domain: str = Field(description="Lookalike name, normalized ASCII FQDN (punycode).")
    registrable: str | None = Field(description="Registrable domain of `domain`.")
    unicode: str = Field(description="Unicode form of `domain`, as a person sees it.")
    score: int = Field(ge=0, le=100, description="Highest score seen, 0-100.")
    severity: str = Field(description="`low`, `medium`, `high` or `critical`, from the score.")
    techniques: list[str] = Field(
        validation_alias="technique_names", description="Detection techniques that matched."
    )
    reasons: list[dict[str, Any]] = Field(description="Structured reasons behind the score.")
    source: str = Field(description="Source of the first evidence: ct, dns, feed, phantom, manual.")
    status: AlertStatus
    first_seen: datetime
    last_seen: datetime
    updated_at: datetime
    dns_state: str | None = Field(
        None,
        description="What DNS said about the domain at the last look: `resolves` (A or AAAA), "
        "`nxdomain`, `nodata` (exists without addresses) or `unknown` (no answer: neither "
        "registered nor free); null before the first look. History: `GET /v1/alerts/{id}/dns`.",
    )
    dns_checked_at: datetime | None = Field(
        None, description="When the DNS enrichment last took the domain up; null: never."
    )


class AlertDetail(AlertOut):
    events: list[AlertEventOut] = Field(description="Audit trail, oldest first.")


class AlertPage(BaseModel):
    items: list[AlertOut]
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page; null at end.")


class StatusChange(BaseModel):
    model_config = ConfigDict(extra="forbid")

    status: AlertStatus = Field(
        description="Target status. Allowed moves: new→triaged|confirmed|false_positive, "
        "triaged→confirmed|false_positive, confirmed→takedown_requested|resolved|false_positive, "
        "takedown_requested→resolved; false_positive|resolved→new reopens."
    )
    note: str | None = Field(None, max_length=10000, description="Why; kept in the audit trail.")


class BulkStatusChange(StatusChange):
    ids: list[BigId] = Field(min_length=1, max_length=1000, description="Alert ids to change.")


class BulkStatusResult(BaseModel):
    changed: list[int] = Field(description="Ids whose status changed (all or none).")


class ManualAlert(BaseModel):
    model_config = ConfigDict(extra="forbid")

    brand_id: Id = Field(description="Brand the domain imitates.")
    domain: str = Field(min_length=1, max_length=2048, description="Domain or URL reported.")
    note: str | None = Field(None, max_length=10000, description="Why it was reported.")


class DnsSnapshotOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    taken_at: datetime = Field(description="When DNS was asked.")
    state: str = Field(
        description="`resolves`, `nxdomain`, `nodata` or `unknown`, as `dns_state` of the alert."
    )
    changes: list[str] = Field(
        description="Material changes against each lookup's last known answer: "
        "`first_resolution`, `mx_appeared`, `mx_gone`, `ns_changed`, `went_dark`, `parked`, "
        "`unparked`, `brand_nameservers`, `left_brand_nameservers`; empty when nothing "
        "changed or nothing was answered."
    )
    data: dict[str, Any] = Field(
        description="The whole look, as `phantomwatch dns lookup` prints it: records (A, AAAA, "
        "CNAME, MX, NS, TXT, SOA), `registration`, `has_mx`, `spf`, `dmarc`, `wildcard`, "
        "`parked`, `parking_provider` (null when the lookup was unknown) and every raw "
        "`answers` entry."
    )

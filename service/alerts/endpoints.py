"""HTTP routes for alerts: filtered cursor-paginated list, detail with events, status changes."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Response, status
from fastapi.responses import StreamingResponse
from sqlalchemy.orm import Session

from service.alerts import service
from service.alerts.models import AlertSource, AlertStatus, Severity
from service.alerts.schemas import (
    AlertDetail,
    AlertOut,
    AlertPage,
    BulkStatusChange,
    BulkStatusResult,
    DnsSnapshotOut,
    ManualAlert,
    StatusChange,
)
from service.brands.service import get_brand, to_spec
from service.db import Database
from service.deps import AppSettings, DbSession, ReadCaller, WriteCaller, get_database
from service.detection import DetectionIndex
from service.errors import ValidationFailed
from service.ids import MAX_ID, BigPathId
from service.webhooks.export import csv_rows, jsonl_rows
from service.webhooks.stix import bundle as stix_bundle

router = APIRouter(prefix="/v1/alerts", tags=["alerts"])


def _out(alert: object) -> AlertOut:
    return AlertOut.model_validate(alert, from_attributes=True)


def alert_filters(
    brand_id: Annotated[int | None, Query(ge=1, le=MAX_ID, description="Only this brand.")] = None,
    status_: Annotated[
        list[AlertStatus] | None, Query(alias="status", description="Lifecycle status(es).")
    ] = None,
    severity: Annotated[list[Severity] | None, Query(description="Exact severity(ies).")] = None,
    min_severity: Annotated[Severity | None, Query(description="This severity or worse.")] = None,
    min_score: Annotated[int | None, Query(ge=0, le=100, description="Score at least.")] = None,
    source: Annotated[list[AlertSource] | None, Query(description="Evidence source(s).")] = None,
    technique: Annotated[list[str] | None, Query(description="Technique name(s).")] = None,
    domain: Annotated[
        str | None, Query(max_length=253, description="Substring of the domain (ASCII or Unicode).")
    ] = None,
    since: Annotated[
        datetime | None, Query(description="First seen at or after (ISO 8601).")
    ] = None,
    until: Annotated[datetime | None, Query(description="First seen before (ISO 8601).")] = None,
) -> service.AlertFilters:
    """The filters shared by the list and the export."""
    for name, value in (("since", since), ("until", until)):
        if value is not None and value.tzinfo is None:
            raise ValidationFailed(f"{name} needs a timezone, e.g. 2026-01-01T00:00:00Z")
    return service.AlertFilters(
        brand_id=brand_id,
        status=status_ or (),
        severity=severity or (),
        min_severity=min_severity,
        min_score=min_score,
        source=source or (),
        technique=technique or (),
        domain=domain,
        since=since,
        until=until,
    )


Filters = Annotated[service.AlertFilters, Depends(alert_filters)]


@router.get(
    "",
    response_model=AlertPage,
    summary="List alerts",
    description="Filters combine with AND; repeated parameters (status, source, technique, "
    "severity) match any of their values. Pages are stable under inserts: follow `next_cursor`.",
)
def list_alerts(
    session: DbSession,
    settings: AppSettings,
    _: ReadCaller,
    filters: Filters,
    sort: Annotated[
        service.SortKey, Query(description="Sort key; `-` for descending.")
    ] = "-first_seen",
    limit: Annotated[int | None, Query(ge=1, description="Page size.")] = None,
    cursor: Annotated[str | None, Query(description="`next_cursor` of the previous page.")] = None,
) -> AlertPage:
    size = min(limit or settings.page_size_default, settings.page_size_max)
    rows, next_cursor = service.list_alerts(session, filters, size, sort, cursor)
    return AlertPage(items=[_out(a) for a in rows], next_cursor=next_cursor)


EXPORT_TYPES = {
    "csv": "text/csv; charset=utf-8",
    "jsonl": "application/x-ndjson",
    "stix": "application/stix+json;version=2.1",
}


@router.get(
    "/export",
    summary="Export alerts as CSV, JSON Lines or a STIX 2.1 bundle",
    description="Same filters as the list; every matching alert, newest first. STIX: one "
    "`indicator` per domain (`[domain-name:value = '...']`), the brand as an `identity`, and "
    "`related-to` relationships; ids are stable across exports.",
    responses={200: {"content": {t: {} for t in EXPORT_TYPES.values()}}},
)
def export_alerts(
    session: DbSession,
    database: Annotated[Database, Depends(get_database)],
    _: ReadCaller,
    filters: Filters,
    format: Annotated[Literal["csv", "jsonl", "stix"], Query(description="Output format.")] = "csv",
) -> Response:
    filename = f"phantomwatch-alerts.{'json' if format == 'stix' else format}"
    headers = {"Content-Disposition": f'attachment; filename="{filename}"'}
    # The pages are read in short sessions of their own, after this one has ended.
    session.commit()
    if format == "stix":
        # One JSON document, built in memory by the stix2 library anyway.
        bundle = stix_bundle(_export_pages(database.session, filters))
        return Response(bundle, media_type=EXPORT_TYPES["stix"], headers=headers)
    alerts = _export_pages(database.session, filters)
    rows = csv_rows(alerts) if format == "csv" else jsonl_rows(alerts)
    return StreamingResponse(rows, media_type=EXPORT_TYPES[format], headers=headers)


def _export_pages(
    open_session: Callable[[], AbstractContextManager[Session]], filters: service.AlertFilters
) -> Iterator[dict[str, Any]]:
    """Every matching alert as JSON, newest first, read 1,000 at a time."""
    cursor = None
    while True:
        with open_session() as session:
            rows, cursor = service.list_alerts(session, filters, 1000, "-first_seen", cursor)
            page = [_out(a).model_dump(mode="json") for a in rows]
        yield from page
        if cursor is None:
            return


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=AlertOut,
    summary="Report a lookalike by hand",
    description="Scores the domain against the brand with the detection engine and records it "
    "with source `manual`, whatever the score. Reporting a known domain adds evidence.",
)
def report_alert(body: ManualAlert, session: DbSession, caller: WriteCaller) -> AlertOut:
    brand = get_brand(session, body.brand_id)
    index = DetectionIndex.build([to_spec(brand)])
    result = index.score(body.domain)
    if result.error is not None or result.domain is None:
        raise ValidationFailed(f"domain {body.domain!r}: {result.error}")
    reasons = [r.to_json() for r in result.reasons if r.brand == brand.name]
    reasons.append({"technique": "manual", "detail": body.note or f"reported by {caller.name}"})
    evidence = service.Evidence(
        brand_id=brand.id,
        domain=result.domain,
        registrable=result.registrable,
        unicode=result.unicode or result.domain,
        score=result.score if result.brand == brand.name else 0,
        reasons=reasons,
        source=AlertSource.MANUAL,
    )
    alert, _ = service.record(session, evidence, actor=caller.name)
    return _out(alert)


@router.post(
    "/status",
    response_model=BulkStatusResult,
    summary="Change the status of many alerts",
    description="All or nothing: if any alert is missing (404) or cannot make the move (409), "
    "none changes.",
)
def change_status_bulk(
    body: BulkStatusChange, session: DbSession, caller: WriteCaller
) -> BulkStatusResult:
    changed = service.change_status_bulk(session, body.ids, body.status, caller.name, body.note)
    return BulkStatusResult(changed=changed)


@router.get("/{alert_id}", response_model=AlertDetail, summary="Get an alert with its events")
def get_alert(alert_id: BigPathId, session: DbSession, _: ReadCaller) -> AlertDetail:
    return AlertDetail.model_validate(
        service.get_alert(session, alert_id, with_events=True), from_attributes=True
    )


@router.get(
    "/{alert_id}/dns",
    response_model=list[DnsSnapshotOut],
    summary="DNS history of an alert",
    description="What DNS said about the alert's domain at each look, newest first: state, "
    "material changes against each lookup's last known answer, and the whole enrichment. "
    "The worker looks soon after the alert is raised, then every "
    "`PHANTOMWATCH_DNS_RECHECK_INTERVAL`.",
)
def get_alert_dns(
    alert_id: BigPathId,
    session: DbSession,
    _: ReadCaller,
    limit: Annotated[
        int, Query(ge=1, le=200, description="Snapshots to return, newest first.")
    ] = 20,
) -> list[DnsSnapshotOut]:
    return [
        DnsSnapshotOut.model_validate(row) for row in service.dns_history(session, alert_id, limit)
    ]


@router.post(
    "/{alert_id}/status",
    response_model=AlertDetail,
    summary="Change an alert's status",
    description="Illegal moves (e.g. new → resolved) are refused with 409 and the allowed moves.",
)
def change_status(
    alert_id: BigPathId, body: StatusChange, session: DbSession, caller: WriteCaller
) -> AlertDetail:
    alert = service.get_alert(session, alert_id, with_events=True, for_update=True)
    service.change_status(session, alert, body.status, caller.name, body.note)
    session.flush()
    session.refresh(alert, ["events"])
    return AlertDetail.model_validate(alert, from_attributes=True)

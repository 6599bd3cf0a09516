"""HTTP routes for ingestion sources: CT logs' cursor, lag, throughput and health."""

from __future__ import annotations

from fastapi import APIRouter

from service.ctlogs import service
from service.ctlogs.schemas import CtLogOut, CtLogUpdate, SourcesOut
from service.deps import AdminCaller, DbSession, ReadCaller
from service.ids import PathId

router = APIRouter(prefix="/v1/sources", tags=["sources"])


@router.get(
    "",
    response_model=SourcesOut,
    summary="State of every source",
    description="Per CT log: cursor, lag behind the newest signed head, entries/s, health and "
    "last error.",
)
def list_sources(session: DbSession, _: ReadCaller) -> SourcesOut:
    return SourcesOut(ct=[CtLogOut.of(row) for row in service.list_logs(session)])


@router.patch(
    "/ct/{log_id}",
    response_model=CtLogOut,
    summary="Enable or disable a CT log",
    description="A disabled log keeps its cursor and resumes where it stopped when re-enabled.",
)
def update_ct_log(
    log_id: PathId, body: CtLogUpdate, session: DbSession, _: AdminCaller
) -> CtLogOut:
    return CtLogOut.of(service.set_enabled(session, log_id, body.enabled))

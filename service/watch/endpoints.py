"""HTTP routes of a brand's watch list: predicted and user-added names checked for registration."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response, status

from service.deps import DbSession, ReadCaller, WriteCaller
from service.ids import BigPathId, PathId
from service.watch import service
from service.watch.schemas import WatchAdd, WatchEntryOut, WatchState

router = APIRouter(prefix="/v1/brands", tags=["watchlist"])


@router.get(
    "/{brand_id}/watchlist",
    response_model=list[WatchEntryOut],
    summary="Names watched for registration",
    description="The engine's highest-risk predicted lookalikes of the brand plus names added "
    "by users, with their registration state and last check: a list for defensive "
    "registration. A name going free -> registered raises a `registration_watch` alert.",
)
def list_watchlist(
    brand_id: PathId,
    session: DbSession,
    _: ReadCaller,
    state: Annotated[WatchState | None, Query(description="Only this state.")] = None,
) -> list[WatchEntryOut]:
    return [WatchEntryOut.model_validate(e) for e in service.list_entries(session, brand_id, state)]


@router.post(
    "/{brand_id}/watchlist",
    status_code=status.HTTP_201_CREATED,
    response_model=list[WatchEntryOut],
    summary="Watch more names",
    description="Each domain is reduced to its registrable part; names already watched are "
    "returned unchanged, a removed name is watched again as a user name. "
    "Checked at once, then on the watch schedule.",
)
def add_to_watchlist(
    brand_id: PathId, body: WatchAdd, session: DbSession, _: WriteCaller
) -> list[WatchEntryOut]:
    return [
        WatchEntryOut.model_validate(e) for e in service.add_names(session, brand_id, body.domains)
    ]


@router.delete(
    "/{brand_id}/watchlist/{entry_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Stop watching a name",
    description="The name stays removed: neither the hourly refresh nor the next phantom "
    "probe adds it back, and a removed phantom name is no longer matched in CT and feeds. "
    "POST the name to watch it again.",
)
def remove_from_watchlist(
    brand_id: PathId, entry_id: BigPathId, session: DbSession, _: WriteCaller
) -> Response:
    service.remove(session, brand_id, entry_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)

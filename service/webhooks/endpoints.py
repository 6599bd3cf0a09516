"""HTTP routes for webhook subscriptions (admin scope): CRUD, secret rotation, test, redelivery."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Response, status

from service.deps import AdminCaller, AppSettings, DbSession
from service.ids import PathId
from service.webhooks import service
from service.webhooks.schemas import (
    DeliveryOut,
    ProbeResult,
    Redeliver,
    RedeliverResult,
    RotateSecret,
    SecretRotated,
    WebhookCreate,
    WebhookCreated,
    WebhookOut,
    WebhookUpdate,
)

router = APIRouter(prefix="/v1/webhooks", tags=["webhooks"])


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=WebhookCreated,
    summary="Subscribe a receiver to alert events",
    description="For the `json` format the response carries the signing secret, shown once.",
)
def create_webhook(body: WebhookCreate, session: DbSession, _: AdminCaller) -> WebhookCreated:
    sub, secret = service.create(session, body)
    return WebhookCreated.model_validate(
        {**WebhookOut.model_validate(sub).model_dump(), "secret": secret}
    )


@router.get("", response_model=list[WebhookOut], summary="List webhook subscriptions")
def list_webhooks(session: DbSession, _: AdminCaller) -> list[WebhookOut]:
    return [WebhookOut.model_validate(s) for s in service.list_all(session)]


@router.get("/{sub_id}", response_model=WebhookOut, summary="Get a webhook subscription")
def get_webhook(sub_id: PathId, session: DbSession, _: AdminCaller) -> WebhookOut:
    return WebhookOut.model_validate(service.get(session, sub_id))


@router.patch(
    "/{sub_id}",
    response_model=WebhookOut,
    summary="Change a webhook subscription",
    description="Send `resume: true` to lift a pause after repeated failures.",
)
def update_webhook(
    sub_id: PathId, body: WebhookUpdate, session: DbSession, _: AdminCaller
) -> WebhookOut:
    return WebhookOut.model_validate(service.update_subscription(session, sub_id, body))


@router.delete(
    "/{sub_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Delete a webhook subscription and its queue",
)
def delete_webhook(sub_id: PathId, session: DbSession, _: AdminCaller) -> Response:
    service.delete(session, sub_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post(
    "/{sub_id}/rotate-secret",
    response_model=SecretRotated,
    summary="Rotate the signing secret",
    description="Events are signed with both secrets during the overlap, so receivers can "
    "switch without losing any.",
)
def rotate_secret(
    sub_id: PathId, body: RotateSecret, session: DbSession, _: AdminCaller
) -> SecretRotated:
    secret, expires = service.rotate_secret(
        session, sub_id, timedelta(seconds=body.overlap_seconds)
    )
    return SecretRotated(secret=secret, previous_expires_at=expires)


@router.post(
    "/{sub_id}/test",
    response_model=ProbeResult,
    summary="Send a sample event now",
    description="Sends a sample `alert.created` through the real sender and reports the answer. "
    "Nothing is queued.",
)
def send_test_event(
    sub_id: PathId, session: DbSession, settings: AppSettings, _: AdminCaller
) -> ProbeResult:
    from service.webhooks.delivery import send_test

    subscription = service.get(session, sub_id)
    # End the transaction before the outbound call: it must not hold database locks.
    session.commit()
    return send_test(settings, subscription)


@router.get(
    "/{sub_id}/deliveries",
    response_model=list[DeliveryOut],
    summary="Recent deliveries with every attempt",
)
def list_deliveries(
    sub_id: PathId,
    session: DbSession,
    _: AdminCaller,
    status_: Annotated[
        Literal["pending", "delivered", "dead"] | None,
        Query(alias="status", description="Only this state."),
    ] = None,
    limit: Annotated[int, Query(ge=1, le=1000, description="Newest first.")] = 100,
) -> list[DeliveryOut]:
    rows = service.list_deliveries(session, sub_id, status_, limit)
    return [DeliveryOut.model_validate(d) for d in rows]


@router.post(
    "/{sub_id}/redeliver",
    response_model=RedeliverResult,
    summary="Deliver events again",
    description="By ids, or every dead (or delivered) delivery since a time. Receivers see the "
    "same `webhook-id` again and can deduplicate.",
)
def redeliver(
    sub_id: PathId, body: Redeliver, session: DbSession, _: AdminCaller
) -> RedeliverResult:
    return RedeliverResult(queued=service.redeliver(session, sub_id, body))

"""The transactional outbox: alert events become delivery rows in the same transaction."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from service.alerts.models import Alert, AlertEvent, EventKind, Severity
from service.alerts.schemas import AlertEventOut, AlertOut
from service.db import utcnow
from service.webhooks.models import WebhookDelivery, WebhookSubscription

_TYPE_OF_KIND = {
    EventKind.CREATED.value: "alert.created",
    EventKind.EVIDENCE_ADDED.value: "alert.updated",
    EventKind.STATUS_CHANGED.value: "alert.status_changed",
}


_CACHE_KEY = "phantomwatch.active_subscriptions"


def _active(session: Session) -> list[WebhookSubscription]:
    """Enabled subscriptions, read once per transaction (a batch may record many events)."""
    cached: list[WebhookSubscription] | None = session.info.get(_CACHE_KEY)
    if cached is None:
        # Paused subscriptions still collect events: nothing is lost while they are fixed.
        query = select(WebhookSubscription).where(WebhookSubscription.enabled.is_(True))
        cached = session.info[_CACHE_KEY] = list(session.scalars(query))
    return cached


def forget_subscriptions(session: Session) -> None:
    """Drop the per-transaction cache (after subscriptions change in the same session)."""
    session.info.pop(_CACHE_KEY, None)


def matches(sub: WebhookSubscription, event_type: str, alert: Alert | None) -> bool:
    """Whether a subscription wants this event (filters apply to alert events only)."""
    if event_type not in sub.event_types:
        return False
    if alert is None:
        return True
    if sub.brand_ids and alert.brand_id not in sub.brand_ids:
        return False
    if sub.min_severity and alert.severity_rank < Severity(sub.min_severity).rank:
        return False
    if sub.min_score is not None and alert.score < sub.min_score:
        return False
    return not sub.techniques or bool(set(sub.techniques) & set(alert.technique_names))


def _enqueue(
    session: Session,
    subscriptions: list[WebhookSubscription],
    event_id: str,
    event_type: str,
    when: datetime,
    data: dict[str, Any],
) -> int:
    for sub in subscriptions:
        session.add(
            WebhookDelivery(
                subscription_id=sub.id,
                event_id=event_id,
                event_type=event_type,
                event_time=when,
                data=data,
                next_attempt_at=when,
            )
        )
    return len(subscriptions)


def enqueue_alert_event(session: Session, alert: Alert, event: AlertEvent) -> int:
    """Write one delivery per matching subscription for an alert event; returns how many."""
    event_type = _TYPE_OF_KIND[event.kind]
    wanted = [sub for sub in _active(session) if matches(sub, event_type, alert)]
    if not wanted:
        return 0  # no serialization, no flush: the common case while ingesting
    session.flush()  # the event id is the webhook id receivers deduplicate on
    data = {
        "alert": AlertOut.model_validate(alert, from_attributes=True).model_dump(mode="json"),
        "event": AlertEventOut.model_validate(event, from_attributes=True).model_dump(mode="json"),
    }
    return _enqueue(session, wanted, f"evt_{event.id}", event_type, event.created_at, data)


def enqueue_source_unhealthy(session: Session, source: dict[str, Any], reason: str) -> int:
    """A source (CT log) stopped verifying: tell the subscribers that asked."""
    now = utcnow()
    event_id = f"evt_src_{source.get('kind', 'ct')}_{source.get('id')}_{int(now.timestamp())}"
    data = {"source": source, "reason": reason}
    wanted = [sub for sub in _active(session) if matches(sub, "source.unhealthy", None)]
    return _enqueue(session, wanted, event_id, "source.unhealthy", now, data)

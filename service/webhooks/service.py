"""Subscription rules: target validation, secrets and their rotation, redelivery."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import select, update
from sqlalchemy.orm import Session, selectinload

from service.db import utcnow
from service.errors import NotFound, ValidationFailed
from service.webhooks.formats import new_secret
from service.webhooks.models import WebhookDelivery, WebhookSubscription
from service.webhooks.outbox import forget_subscriptions
from service.webhooks.schemas import (
    Redeliver,
    WebhookCreate,
    WebhookUpdate,
)

SYSLOG_SCHEMES = ("udp", "tcp", "tls")


def check_target(target: str, fmt: str) -> str:
    """Refuse targets that cannot carry the format; the network policy is checked on send."""
    parts = urlsplit(target.strip())
    if parts.scheme in ("http", "https"):
        if fmt == "cef":
            raise ValidationFailed("format cef is sent over syslog: use udp://, tcp:// or tls://")
        if not parts.hostname:
            raise ValidationFailed(f"target {target!r} has no host")
    elif parts.scheme in SYSLOG_SCHEMES:
        if fmt != "cef":
            raise ValidationFailed(f"a {parts.scheme}:// target carries syslog: use format cef")
        try:
            port = parts.port
        except ValueError:
            port = None
        if not parts.hostname or port is None:
            raise ValidationFailed(f"target {target!r} needs host:port")
    else:
        raise ValidationFailed(
            f"target {target!r}: use https://, http://, udp://, tcp:// or tls://"
        )
    return target.strip()


def active_secrets(sub: WebhookSubscription, now: datetime | None = None) -> list[str]:
    """Secrets that still sign: the newest first, then any in their rotation overlap."""
    moment = now or utcnow()
    return [
        entry["secret"]
        for entry in reversed(sub.secrets)
        if entry.get("expires_at") is None or datetime.fromisoformat(entry["expires_at"]) > moment
    ]


def _secrets_for(fmt: str, splunk_token: str | None) -> tuple[list[dict[str, Any]], str | None]:
    if fmt == "splunk":
        if not splunk_token:
            raise ValidationFailed("the splunk format needs splunk_token (the HEC token)")
        return [{"secret": splunk_token, "expires_at": None}], None
    if fmt == "json":
        secret = new_secret()
        return [{"secret": secret, "expires_at": None}], secret
    return [], None


def create(session: Session, data: WebhookCreate) -> tuple[WebhookSubscription, str | None]:
    target = check_target(data.target, data.format)
    stored, shown = _secrets_for(data.format, data.splunk_token)
    sub = WebhookSubscription(
        name=data.name.strip(),
        target=target,
        format=data.format,
        event_types=list(dict.fromkeys(data.event_types)),
        brand_ids=sorted(set(data.brand_ids)),
        min_severity=data.min_severity.value if data.min_severity else None,
        min_score=data.min_score,
        techniques=sorted(set(data.techniques)),
        secrets=stored,
        enabled=data.enabled,
    )
    session.add(sub)
    session.flush()
    forget_subscriptions(session)
    return sub, shown


def get(session: Session, sub_id: int) -> WebhookSubscription:
    sub = session.get(WebhookSubscription, sub_id)
    if sub is None:
        raise NotFound(f"no webhook subscription with id {sub_id}")
    return sub


def list_all(session: Session) -> list[WebhookSubscription]:
    return list(session.scalars(select(WebhookSubscription).order_by(WebhookSubscription.id)))


def update_subscription(
    session: Session, sub_id: int, changes: WebhookUpdate
) -> WebhookSubscription:
    sub = get(session, sub_id)
    given = changes.model_dump(exclude_unset=True)
    if "target" in given:
        sub.target = check_target(given.pop("target"), sub.format)
    if "splunk_token" in given:
        token = given.pop("splunk_token")
        if sub.format != "splunk":
            raise ValidationFailed("splunk_token applies to the splunk format only")
        sub.secrets = [{"secret": token, "expires_at": None}]
    if given.pop("resume", False):
        sub.paused_at, sub.paused_reason, sub.consecutive_failures = None, None, 0
        session.execute(
            update(WebhookDelivery)
            .where(WebhookDelivery.subscription_id == sub.id, WebhookDelivery.status == "pending")
            .values(next_attempt_at=utcnow())
        )
    if "min_severity" in given and given["min_severity"] is not None:
        given["min_severity"] = given["min_severity"].value
    for key, value in given.items():
        setattr(sub, key, value)
    sub.updated_at = utcnow()
    return sub


def delete(session: Session, sub_id: int) -> None:
    session.delete(get(session, sub_id))


def rotate_secret(session: Session, sub_id: int, overlap: timedelta) -> tuple[str, datetime]:
    """A new signing secret; the current ones keep signing for the overlap."""
    sub = get(session, sub_id)
    if sub.format != "json":
        raise ValidationFailed("only json subscriptions have a signing secret")
    now = utcnow()
    expires = now + overlap
    kept = [
        {**entry, "expires_at": min(expires, _expiry(entry) or expires).isoformat()}
        for entry in sub.secrets
        if (_expiry(entry) or expires) > now
    ]
    secret = new_secret()
    sub.secrets = [*kept, {"secret": secret, "expires_at": None}]
    sub.updated_at = now
    return secret, expires


def _expiry(entry: dict[str, Any]) -> datetime | None:
    value = entry.get("expires_at")
    return None if value is None else datetime.fromisoformat(value)


def list_deliveries(
    session: Session, sub_id: int, status: str | None, limit: int
) -> list[WebhookDelivery]:
    get(session, sub_id)
    query = (
        select(WebhookDelivery)
        .where(WebhookDelivery.subscription_id == sub_id)
        .options(selectinload(WebhookDelivery.attempt_log))
        .order_by(WebhookDelivery.id.desc())
        .limit(limit)
    )
    if status:
        query = query.where(WebhookDelivery.status == status)
    return list(session.scalars(query))


def redeliver(session: Session, sub_id: int, request: Redeliver) -> int:
    """Put deliveries back in the queue; receivers dedupe on the unchanged webhook-id."""
    get(session, sub_id)
    query = update(WebhookDelivery).where(WebhookDelivery.subscription_id == sub_id)
    if request.delivery_ids:
        query = query.where(WebhookDelivery.id.in_(request.delivery_ids))
    else:
        if request.status != "any":
            query = query.where(WebhookDelivery.status == request.status)
        if request.since is not None:
            query = query.where(WebhookDelivery.event_time >= request.since)
    result = session.execute(
        query.values(status="pending", next_attempt_at=utcnow(), last_error=None)
    )
    return int(result.rowcount)  # type: ignore[attr-defined]

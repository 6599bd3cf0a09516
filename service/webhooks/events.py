"""The webhook event: one alert or source change, and its versioned JSON payload."""

from __future__ import annotations

import dataclasses
import enum
import json
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any, Literal, get_args

# Bumped (as a date) only on breaking changes to the body; additions keep the version.
PAYLOAD_VERSION = "2026-11-01"

EventType = Literal["alert.created", "alert.updated", "alert.status_changed", "source.unhealthy"]
EVENT_TYPES: tuple[EventType, ...] = get_args(EventType)
ALERT_EVENT_TYPES: tuple[EventType, ...] = (
    "alert.created",
    "alert.updated",
    "alert.status_changed",
)


def utc(moment: datetime) -> datetime:
    """The same instant in UTC; naive datetimes (SQLite hands those back) are taken as UTC."""
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def isoformat(moment: datetime) -> str:
    """RFC 3339 UTC with milliseconds and a `Z`: the one timestamp format of every payload."""
    return utc(moment).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass(frozen=True)
class WebhookEvent:
    """One thing subscribers hear about.

    `id` is stable per event (`evt_<alert event id>`): it is the `webhook-id`
    header and receivers deduplicate on it, so every retry must reuse it.
    """

    id: str
    type: EventType
    timestamp: datetime
    data: dict[str, Any]

    def __post_init__(self) -> None:
        if not self.id or len(self.id) > 255 or not self.id.isprintable() or " " in self.id:
            raise ValueError(f"event id {self.id!r} must be 1-255 printable, space-free characters")
        if self.type not in EVENT_TYPES:
            raise ValueError(f"unknown event type {self.type!r}")
        object.__setattr__(self, "timestamp", utc(self.timestamp))


def _json_default(value: Any) -> Any:
    # Forgiving for rows handed over without model_dump(mode="json").
    if isinstance(value, datetime):
        return isoformat(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, uuid.UUID):
        return str(value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.asdict(value)
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def payload(event: WebhookEvent) -> dict[str, Any]:
    """The documented body: `{"id", "type", "timestamp", "version", "data"}` (JSON-ready)."""
    body = {
        "id": event.id,
        "type": event.type,
        "timestamp": isoformat(event.timestamp),
        "version": PAYLOAD_VERSION,
        "data": event.data,
    }
    # A round trip turns datetimes, enums and tuples into what a receiver will parse.
    result: dict[str, Any] = json.loads(to_json(body))
    return result


def to_json(value: Any) -> str:
    """Compact UTF-8 JSON, the serialization every renderer signs and sends."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=_json_default)


def payload_bytes(event: WebhookEvent) -> bytes:
    """`payload(event)` serialized: the exact bytes of a JSON delivery body."""
    return to_json(payload(event)).encode()


def alert_event(
    event_id: str,
    type: EventType,
    timestamp: datetime,
    alert: dict[str, Any],
    alert_event: dict[str, Any],
) -> WebhookEvent:
    """An alert event from `AlertOut` and `AlertEventOut` JSON (`model_dump(mode="json")`)."""
    if type not in ALERT_EVENT_TYPES:
        raise ValueError(f"{type!r} is not an alert event type")
    return WebhookEvent(event_id, type, timestamp, {"alert": alert, "event": alert_event})


def event_from_row(
    event_id: str, event_type: str, timestamp: datetime, data: dict[str, Any]
) -> WebhookEvent:
    """A WebhookEvent from stored columns (an outbox row), the type checked at runtime."""
    if event_type not in EVENT_TYPES:
        raise ValueError(f"unknown event type {event_type!r}")
    return WebhookEvent(event_id, event_type, timestamp, data)


def sample_event(now: datetime | None = None) -> WebhookEvent:
    """A realistic `alert.created`, sent by the subscription `test` action and used in docs."""
    when = isoformat(now or datetime(2026, 11, 1, 9, 30, tzinfo=UTC))
    alert = {
        "id": 4242,
        "brand_id": 7,
        "brand": "ExampleBank",
        "domain": "xn--examplebnk-login-0dn.com",
        "registrable": "xn--examplebnk-login-0dn.com",
        "unicode": "examplebаnk-login.com",
        "score": 91,
        "severity": "critical",
        "techniques": ["homoglyph", "keyword_append"],
        "reasons": [
            {"technique": "homoglyph", "detail": "Cyrillic а (U+0430) for a", "weight": 60},
            {"technique": "keyword_append", "detail": "'-login' appended", "weight": 31},
        ],
        "source": "ct",
        "status": "new",
        "first_seen": when,
        "last_seen": when,
        "updated_at": when,
    }
    event = {
        "id": 31337,
        "kind": "created",
        "actor": "system",
        "from_status": None,
        "to_status": "new",
        "note": None,
        "data": {"source": "ct", "score": 91},
        "created_at": when,
    }
    return alert_event(
        "evt_test_31337", "alert.created", datetime.fromisoformat(when), alert, event
    )


_TIMESTAMP: dict[str, Any] = {"type": "string", "format": "date-time"}
_NULLABLE_STRING: dict[str, Any] = {"type": ["string", "null"]}

ALERT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "The alert as `GET /v1/alerts/{id}` returns it (without the audit trail).",
    "required": [
        "id",
        "brand_id",
        "brand",
        "domain",
        "unicode",
        "score",
        "severity",
        "techniques",
        "status",
        "first_seen",
        "last_seen",
    ],
    "properties": {
        "id": {"type": "integer"},
        "brand_id": {"type": "integer"},
        "brand": {"type": "string", "description": "Name of the imitated brand."},
        "domain": {"type": "string", "description": "Lookalike name, ASCII FQDN (punycode)."},
        "registrable": _NULLABLE_STRING,
        "unicode": {"type": "string", "description": "Unicode form of `domain`."},
        "score": {"type": "integer", "minimum": 0, "maximum": 100},
        "severity": {"enum": ["none", "low", "medium", "high", "critical"]},
        "techniques": {"type": "array", "items": {"type": "string"}},
        "reasons": {"type": "array", "items": {"type": "object"}},
        "source": {"type": "string"},
        "status": {
            "enum": [
                "new",
                "triaged",
                "confirmed",
                "false_positive",
                "takedown_requested",
                "resolved",
            ]
        },
        "first_seen": _TIMESTAMP,
        "last_seen": _TIMESTAMP,
        "updated_at": _TIMESTAMP,
    },
}

ALERT_EVENT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "The audit-trail entry that caused this webhook.",
    "required": ["kind", "created_at"],
    "properties": {
        "id": {"type": "integer"},
        "kind": {"enum": ["created", "evidence_added", "status_changed"]},
        "actor": _NULLABLE_STRING,
        "from_status": _NULLABLE_STRING,
        "to_status": _NULLABLE_STRING,
        "note": _NULLABLE_STRING,
        "data": {"type": ["object", "null"]},
        "created_at": _TIMESTAMP,
    },
}

PAYLOAD_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "$id": f"https://phantomwatch.dev/schemas/webhook-payload/{PAYLOAD_VERSION}.json",
    "title": f"PhantomWatch webhook payload, version {PAYLOAD_VERSION}",
    "type": "object",
    "required": ["id", "type", "timestamp", "version", "data"],
    "properties": {
        "id": {"type": "string", "description": "Event id; the same on every retry: dedupe on it."},
        "type": {"enum": list(EVENT_TYPES)},
        "timestamp": {**_TIMESTAMP, "description": "When the event happened (UTC)."},
        "version": {"const": PAYLOAD_VERSION},
        "data": {"type": "object"},
    },
    "allOf": [
        {
            "if": {"properties": {"type": {"enum": list(ALERT_EVENT_TYPES)}}},
            "then": {
                "properties": {
                    "data": {
                        "type": "object",
                        "required": ["alert", "event"],
                        "properties": {"alert": ALERT_SCHEMA, "event": ALERT_EVENT_SCHEMA},
                    }
                }
            },
        },
        {
            "if": {"properties": {"type": {"const": "source.unhealthy"}}},
            "then": {
                "properties": {
                    "data": {
                        "type": "object",
                        "required": ["source", "reason"],
                        "properties": {
                            "source": {
                                "type": "object",
                                "description": "The source, e.g. {kind: ct, id, name, url}.",
                            },
                            "reason": {"type": "string"},
                        },
                    }
                }
            },
        },
    ],
}

"""The webhook event and its versioned payload."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone

import jsonschema  # type: ignore[import-untyped]
import pytest

from service.webhooks.events import (
    PAYLOAD_SCHEMA,
    PAYLOAD_VERSION,
    WebhookEvent,
    alert_event,
    event_from_row,
    payload,
    payload_bytes,
    sample_event,
)


def test_payload_has_the_documented_envelope() -> None:
    body = payload(sample_event())
    assert list(body) == ["id", "type", "timestamp", "version", "data"]
    assert body["id"] == "evt_test_31337"
    assert body["type"] == "alert.created"
    assert body["version"] == PAYLOAD_VERSION
    assert body["timestamp"] == "2026-11-01T09:30:00.000Z"
    assert set(body["data"]) == {"alert", "event"}


def test_sample_payload_validates_against_the_schema() -> None:
    jsonschema.Draft202012Validator.check_schema(PAYLOAD_SCHEMA)
    jsonschema.validate(payload(sample_event()), PAYLOAD_SCHEMA)


def test_schema_rejects_an_alert_event_without_the_alert() -> None:
    bad = payload(sample_event())
    del bad["data"]["alert"]
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(bad, PAYLOAD_SCHEMA)


def test_source_unhealthy_validates() -> None:
    event = WebhookEvent(
        "evt_src_ct_3_1790000000",
        "source.unhealthy",
        datetime(2026, 11, 1, tzinfo=UTC),
        {"source": {"kind": "ct", "id": 3, "name": "Argon 2026"}, "reason": "STH unverifiable"},
    )
    jsonschema.validate(payload(event), PAYLOAD_SCHEMA)


def test_timestamps_are_normalized_to_utc() -> None:
    plus2 = timezone(timedelta(hours=2))
    aware = WebhookEvent("evt_1", "alert.updated", datetime(2026, 1, 1, 12, tzinfo=plus2), {})
    naive = WebhookEvent("evt_1", "alert.updated", datetime(2026, 1, 1, 10), {})
    assert aware.timestamp == naive.timestamp
    assert aware.timestamp.tzinfo == UTC
    assert payload(aware)["timestamp"] == "2026-01-01T10:00:00.000Z"


def test_non_json_values_in_data_are_serialized() -> None:
    event = WebhookEvent(
        "evt_2", "alert.updated", datetime(2026, 1, 1, tzinfo=UTC), {"when": datetime(2026, 1, 2)}
    )
    assert payload(event)["data"]["when"] == "2026-01-02T00:00:00.000Z"
    assert json.loads(payload_bytes(event)) == payload(event)


@pytest.mark.parametrize("bad_id", ["", "has space", "x" * 256, "line\nbreak"])
def test_event_ids_must_be_header_safe(bad_id: str) -> None:
    with pytest.raises(ValueError, match="event id"):
        WebhookEvent(bad_id, "alert.created", datetime.now(UTC), {})


def test_unknown_types_are_refused() -> None:
    with pytest.raises(ValueError, match="unknown event type"):
        WebhookEvent("evt_1", "alert.deleted", datetime.now(UTC), {})  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="not an alert event"):
        alert_event("evt_1", "source.unhealthy", datetime.now(UTC), {}, {})


def test_payload_bytes_are_compact_utf8() -> None:
    raw = payload_bytes(sample_event())
    assert "examplebаnk-login.com".encode() in raw  # not \u escapes
    assert b": " not in raw


def test_event_from_an_outbox_row() -> None:
    data = payload(sample_event())["data"]
    event = event_from_row("evt_5", "alert.updated", datetime(2026, 1, 1), data)
    assert event.type == "alert.updated"
    assert event.timestamp.tzinfo == UTC
    with pytest.raises(ValueError, match="unknown event type"):
        event_from_row("evt_5", "alert.nope", datetime(2026, 1, 1), data)

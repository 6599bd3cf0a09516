"""Standard Webhooks signing: interop with the reference library, rotation, tampering."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from datetime import UTC, datetime, timedelta

import pytest
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from service.webhooks.events import payload, sample_event
from service.webhooks.formats import (
    SignatureError,
    new_secret,
    render_json,
    render_splunk,
    secret_key,
    sign,
    verify,
)
from tests.webhooks.conftest import OLD_SECRET, SECRET


def _now() -> datetime:
    return datetime.now(UTC)


def test_headers_and_body() -> None:
    now = datetime(2026, 11, 1, 10, 0, 0, 750000, tzinfo=UTC)
    spec = render_json(sample_event(), [SECRET], now)
    assert spec.method == "POST"
    assert spec.headers["webhook-id"] == "evt_test_31337"
    assert spec.headers["webhook-timestamp"] == str(int(now.timestamp()))
    assert spec.headers["content-type"] == "application/json"
    assert spec.headers["webhook-signature"].startswith("v1,")
    assert " " not in spec.headers["webhook-signature"]


def test_signature_matches_a_hand_computed_hmac() -> None:
    spec = render_json(sample_event(), [SECRET], datetime(2026, 11, 1, tzinfo=UTC))
    key = base64.b64decode(SECRET.removeprefix("whsec_"))
    signed = b"evt_test_31337." + spec.headers["webhook-timestamp"].encode() + b"." + spec.body
    expected = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    assert spec.headers["webhook-signature"] == f"v1,{expected}"


def test_reference_library_verifies_our_signature() -> None:
    spec = render_json(sample_event(), [SECRET], _now())
    parsed = Webhook(SECRET).verify(spec.body, spec.headers)
    assert parsed == payload(sample_event())


def test_our_verify_accepts_the_reference_library_signature() -> None:
    now = _now()
    body = render_json(sample_event(), [SECRET], now).body
    msg_id = "evt_test_31337"
    headers = {
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(now.timestamp())),
        "webhook-signature": Webhook(SECRET).sign(msg_id, now, body.decode()),
    }
    assert verify(body, headers, SECRET)["id"] == msg_id


def test_rotation_overlap_sends_two_signatures_either_verifies() -> None:
    spec = render_json(sample_event(), [OLD_SECRET, SECRET], _now())
    signatures = spec.headers["webhook-signature"].split(" ")
    assert len(signatures) == 2
    for secret in (OLD_SECRET, SECRET):
        Webhook(secret).verify(spec.body, spec.headers)
        verify(spec.body, spec.headers, secret)
    with pytest.raises(SignatureError):
        verify(spec.body, spec.headers, new_secret())
    with pytest.raises(WebhookVerificationError):
        Webhook(new_secret()).verify(spec.body, spec.headers)


def test_receiver_with_several_secrets() -> None:
    spec = render_json(sample_event(), [SECRET], _now())
    assert verify(spec.body, spec.headers, [new_secret(), SECRET])["id"] == "evt_test_31337"


def test_tampered_body_fails() -> None:
    spec = render_json(sample_event(), [SECRET], _now())
    body = spec.body.replace(b'"score":91', b'"score":11')
    assert body != spec.body
    with pytest.raises(SignatureError, match="no matching"):
        verify(body, spec.headers, SECRET)
    with pytest.raises(WebhookVerificationError):
        Webhook(SECRET).verify(body, spec.headers)


def test_tampered_timestamp_fails() -> None:
    spec = render_json(sample_event(), [SECRET], _now())
    headers = dict(spec.headers)
    headers["webhook-timestamp"] = str(int(headers["webhook-timestamp"]) - 1)
    with pytest.raises(SignatureError, match="no matching"):
        verify(spec.body, headers, SECRET)
    with pytest.raises(WebhookVerificationError):
        Webhook(SECRET).verify(spec.body, headers)


def test_tampered_id_fails() -> None:
    spec = render_json(sample_event(), [SECRET], _now())
    headers = {**spec.headers, "webhook-id": "evt_other"}
    with pytest.raises(SignatureError):
        verify(spec.body, headers, SECRET)


def test_stale_and_future_timestamps_are_refused() -> None:
    now = _now()
    old = render_json(sample_event(), [SECRET], now - timedelta(minutes=6))
    with pytest.raises(SignatureError, match="tolerance"):
        verify(old.body, old.headers, SECRET, now=now)
    future = render_json(sample_event(), [SECRET], now + timedelta(minutes=6))
    with pytest.raises(SignatureError, match="tolerance"):
        verify(future.body, future.headers, SECRET, now=now)
    # a receiver may widen the window, e.g. to replay from its own queue
    verify(old.body, old.headers, SECRET, now=now, tolerance=timedelta(minutes=10))


def test_missing_headers_and_unknown_versions() -> None:
    spec = render_json(sample_event(), [SECRET], _now())
    with pytest.raises(SignatureError, match="missing"):
        verify(spec.body, {"webhook-id": "x"}, SECRET)
    headers = dict(spec.headers)
    headers["webhook-signature"] = "v1a,AAAA " + headers["webhook-signature"]
    verify(spec.body, headers, SECRET)  # an asymmetric signature we cannot check is skipped
    headers["webhook-signature"] = headers["webhook-signature"].replace("v1,", "v2,")
    with pytest.raises(SignatureError):
        verify(spec.body, headers, SECRET)


def test_headers_are_case_insensitive_for_verify() -> None:
    spec = render_json(sample_event(), [SECRET], _now())
    upper = {k.title(): v for k, v in spec.headers.items()}
    verify(spec.body.decode(), upper, SECRET)


def test_secret_forms() -> None:
    raw = secret_key(SECRET)
    assert secret_key(SECRET.removeprefix("whsec_")) == raw
    unpadded = "whsec_" + base64.b64encode(b"x" * 31).decode().rstrip("=")
    assert secret_key(unpadded) == b"x" * 31
    assert len(secret_key(new_secret())) == 32
    for bad in ("whsec_", "whsec_not*base64"):
        with pytest.raises(ValueError, match="secret"):
            secret_key(bad)
    with pytest.raises(ValueError, match="at least one"):
        render_json(sample_event(), [], _now())
    assert sign("a", 1, b"b", SECRET) != sign("a", 1, b"b", OLD_SECRET)


def test_repr_never_shows_signatures_or_tokens() -> None:
    spec = render_json(sample_event(), [SECRET], _now())
    assert spec.headers["webhook-signature"] not in repr(spec)
    hec = render_splunk(sample_event(), "11111111-2222-3333-4444-555555555555", "pw-1")
    assert "11111111" not in repr(hec)
    assert "<redacted>" in repr(hec)


def test_splunk_hec_request() -> None:
    event = sample_event()
    spec = render_splunk(event, "tok", "pw-1", index="security")
    assert spec.headers["authorization"] == "Splunk tok"
    body = json.loads(spec.body)
    assert list(body) == ["time", "host", "source", "sourcetype", "index", "event"]
    assert body["time"] == event.timestamp.timestamp()
    assert isinstance(body["time"], float)
    assert body["host"] == "pw-1"
    assert body["source"] == "phantomwatch"
    assert body["sourcetype"] == "phantomwatch:webhook"
    assert body["event"] == payload(event)
    assert "index" not in json.loads(render_splunk(event, "tok", "pw-1").body)

"""Pure renderers of a webhook event: Standard Webhooks JSON, Splunk HEC, CEF over syslog."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import math
import secrets as random_secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from service import __version__
from service.webhooks.events import EventType, WebhookEvent, payload, to_json, utc

SECRET_PREFIX = "whsec_"
SIGNATURE_VERSION = "v1"
DEFAULT_TOLERANCE = timedelta(minutes=5)
USER_AGENT = f"PhantomWatch-Webhooks/{__version__}"
# Header values a repr, log line or error message must never show.
SENSITIVE_HEADERS = frozenset({"authorization", "webhook-signature", "proxy-authorization"})


class SignatureError(ValueError):
    """A delivery failed verification: missing headers, stale timestamp or no matching signature."""


@dataclass(frozen=True)
class HttpRequestSpec:
    """What to POST: the exact body bytes (signed as they are) and the headers."""

    body: bytes = field(repr=False)
    headers: dict[str, str] = field(repr=False)
    method: str = "POST"

    def __repr__(self) -> str:
        shown = {
            k: ("<redacted>" if k.lower() in SENSITIVE_HEADERS else v)
            for k, v in self.headers.items()
        }
        return f"HttpRequestSpec(method={self.method!r}, headers={shown!r}, {len(self.body)} bytes)"


# --- Standard Webhooks -------------------------------------------------------------------


def new_secret() -> str:
    """A fresh signing secret: `whsec_` + base64 of 32 random bytes."""
    return SECRET_PREFIX + base64.b64encode(random_secrets.token_bytes(32)).decode()


def secret_key(secret: str) -> bytes:
    """The HMAC key of a `whsec_<base64>` secret (the prefix is optional, padding too)."""
    encoded = secret.removeprefix(SECRET_PREFIX).strip()
    try:
        key = base64.b64decode(encoded + "=" * (-len(encoded) % 4), validate=True)
    except binascii.Error:
        raise ValueError("a webhook secret is whsec_ followed by base64") from None
    if not key:
        raise ValueError("a webhook secret must not be empty")
    return key


def sign(msg_id: str, timestamp: int, body: bytes, secret: str) -> str:
    """`v1,<base64 HMAC-SHA256 of "id.timestamp.body">` for one secret."""
    signed = f"{msg_id}.{timestamp}.".encode() + body
    digest = hmac.new(secret_key(secret), signed, hashlib.sha256).digest()
    return f"{SIGNATURE_VERSION},{base64.b64encode(digest).decode()}"


def render_json(event: WebhookEvent, secrets: Sequence[str], now: datetime) -> HttpRequestSpec:
    """A Standard Webhooks request, signed with every active secret (rotation overlap).

    `now` is the attempt time: the timestamp header changes on each retry,
    the `webhook-id` (the event id) never does.
    """
    if not secrets:
        raise ValueError("a JSON webhook needs at least one signing secret")
    body = to_json(payload(event)).encode()
    timestamp = math.floor(utc(now).timestamp())
    signatures = " ".join(sign(event.id, timestamp, body, secret) for secret in secrets)
    return HttpRequestSpec(
        body=body,
        headers={
            "content-type": "application/json",
            "user-agent": USER_AGENT,
            "webhook-id": event.id,
            "webhook-timestamp": str(timestamp),
            "webhook-signature": signatures,
        },
    )


def verify(
    body: bytes | str,
    headers: Mapping[str, str],
    secret: str | Sequence[str],
    *,
    now: datetime | None = None,
    tolerance: timedelta = DEFAULT_TOLERANCE,
) -> dict[str, Any]:
    """The parsed payload of a genuine delivery, else SignatureError (what a receiver runs).

    `secret` may be several secrets (the receiver's side of a rotation).
    Timestamps further than `tolerance` from `now` are refused to stop replays.
    """
    raw = body.encode() if isinstance(body, str) else body
    lowered = {k.lower(): v for k, v in headers.items()}
    msg_id = lowered.get("webhook-id", "")
    stamp = lowered.get("webhook-timestamp", "")
    offered = lowered.get("webhook-signature", "")
    if not (msg_id and stamp and offered):
        raise SignatureError("missing webhook-id, webhook-timestamp or webhook-signature")
    if not stamp.isdigit():
        raise SignatureError("webhook-timestamp is not an integer")
    current = utc(now) if now is not None else datetime.now(UTC)
    sent = datetime.fromtimestamp(int(stamp), UTC)
    if abs(current - sent) > tolerance:
        raise SignatureError("webhook-timestamp is outside the tolerance window")
    candidates = [secret] if isinstance(secret, str) else list(secret)
    expected = [sign(msg_id, int(stamp), raw, s).encode() for s in candidates]
    for item in offered.split(" "):
        version, _, _ = item.partition(",")
        if version != SIGNATURE_VERSION:
            continue  # e.g. v1a (asymmetric) signatures we do not hold keys for
        # compare_digest over every candidate: no early exit that leaks which one matched
        if any(hmac.compare_digest(item.encode(), want) for want in expected):
            parsed: dict[str, Any] = json.loads(raw)
            return parsed
    raise SignatureError("no matching signature")


# --- Splunk HTTP Event Collector ---------------------------------------------------------


def render_splunk(
    event: WebhookEvent,
    token: str,
    host: str,
    source: str = "phantomwatch",
    sourcetype: str = "phantomwatch:webhook",
    index: str | None = None,
) -> HttpRequestSpec:
    """A HEC `/services/collector/event` request carrying the JSON payload as the event."""
    body: dict[str, Any] = {
        "time": round(event.timestamp.timestamp(), 3),
        "host": host,
        "source": source,
        "sourcetype": sourcetype,
    }
    if index:
        body["index"] = index
    body["event"] = payload(event)
    return HttpRequestSpec(
        body=to_json(body).encode(),
        headers={
            "authorization": f"Splunk {token}",
            "content-type": "application/json",
            "user-agent": USER_AGENT,
        },
    )


# --- CEF ---------------------------------------------------------------------------------

CEF_VENDOR = "PhantomWatch"
CEF_PRODUCT = "PhantomWatch"
# Device Event Class ID: the event type itself, so SIEM rules read like the docs.
CEF_NAMES: dict[EventType, str] = {
    "alert.created": "Lookalike domain detected",
    "alert.updated": "Lookalike domain alert updated",
    "alert.status_changed": "Lookalike domain alert status changed",
    "source.unhealthy": "Detection source unhealthy",
}
CEF_SEVERITY = {"none": 1, "low": 3, "medium": 5, "high": 8, "critical": 10}
SOURCE_UNHEALTHY_SEVERITY = 7
# ArcSight truncates msg at 1023 characters; cutting it ourselves keeps the escapes intact.
CEF_MSG_MAX = 1023


def cef_header_escape(value: str) -> str:
    """Header fields: `\\` and `|` escaped; line breaks cannot appear, so they become spaces."""
    value = value.replace("\\", "\\\\").replace("|", "\\|")
    return value.replace("\r\n", " ").replace("\r", " ").replace("\n", " ")


def cef_ext_escape(value: str) -> str:
    """Extension values: `\\`, `=` escaped; CR and LF as the two-character `\\r` and `\\n`."""
    value = value.replace("\\", "\\\\").replace("=", "\\=")
    return value.replace("\r\n", "\\n").replace("\r", "\\r").replace("\n", "\\n")


def _epoch_ms(value: Any) -> str | None:
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, str) and value:
        try:
            moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
    else:
        return None
    return str(round(utc(moment).timestamp() * 1000))


def cef_severity(event: WebhookEvent) -> int:
    """0-10: from the alert's severity band; source problems are a fixed 7."""
    if event.type == "source.unhealthy":
        return SOURCE_UNHEALTHY_SEVERITY
    alert = event.data.get("alert") or {}
    return CEF_SEVERITY.get(str(alert.get("severity", "")), CEF_SEVERITY["medium"])


def cef_extension(event: WebhookEvent) -> list[tuple[str, str]]:
    """The extension as ordered (key, raw value) pairs, before escaping; empty values dropped."""
    pairs: list[tuple[str, str | None]] = [("rt", _epoch_ms(event.timestamp))]
    if event.type == "source.unhealthy":
        source = event.data.get("source") or {}
        name = source.get("name") or f"{source.get('kind', 'source')}:{source.get('id', '?')}"
        pairs += [
            ("cat", "source-health"),
            ("act", "unhealthy"),
            ("externalId", str(source.get("id", "")) or None),
            ("cs1Label", "source"),
            ("cs1", str(name)),
            ("cs4Label", "eventId"),
            ("cs4", event.id),
            ("msg", str(event.data.get("reason", ""))[:CEF_MSG_MAX]),
        ]
    else:
        alert = event.data.get("alert") or {}
        change = event.data.get("event") or {}
        action = event.type.removeprefix("alert.")
        summary = (
            f"{alert.get('unicode') or alert.get('domain')} imitates {alert.get('brand')} "
            f"(score {alert.get('score')}, {alert.get('severity')})"
        )
        if event.type == "alert.status_changed":
            summary += f": {change.get('from_status')} -> {change.get('to_status')}"
        if change.get("note"):
            summary += f": {change['note']}"
        pairs += [
            ("cat", "lookalike-domain"),
            ("act", action),
            ("externalId", str(alert.get("id", "")) or None),
            ("dhost", alert.get("domain")),
            ("start", _epoch_ms(alert.get("first_seen"))),
            ("end", _epoch_ms(alert.get("last_seen"))),
            ("suser", change.get("actor")),
            ("cs1Label", "brand"),
            ("cs1", alert.get("brand")),
            ("cs2Label", "techniques"),
            ("cs2", ",".join(alert.get("techniques") or [])),
            ("cs3Label", "unicodeDomain"),
            ("cs3", alert.get("unicode")),
            ("cs4Label", "eventId"),
            ("cs4", event.id),
            ("cs5Label", "status"),
            ("cs5", alert.get("status")),
            ("cs6Label", "registrable"),
            ("cs6", alert.get("registrable")),
            ("cn1Label", "score"),
            ("cn1", None if alert.get("score") is None else str(alert["score"])),
            ("msg", summary[:CEF_MSG_MAX]),
        ]
    kept = [(k, str(v)) for k, v in pairs if v not in (None, "")]
    # A label without its value only confuses parsers.
    values = {k for k, _ in kept}
    return [(k, v) for k, v in kept if not k.endswith("Label") or k[: -len("Label")] in values]


def render_cef(event: WebhookEvent, product_version: str = __version__) -> str:
    """One CEF:0 line (no syslog header, no newline)."""
    header = [
        "CEF:0",
        cef_header_escape(CEF_VENDOR),
        cef_header_escape(CEF_PRODUCT),
        cef_header_escape(product_version),
        cef_header_escape(event.type),
        cef_header_escape(CEF_NAMES[event.type]),
        str(cef_severity(event)),
    ]
    extension = " ".join(f"{k}={cef_ext_escape(v)}" for k, v in cef_extension(event))
    return "|".join(header) + "|" + extension


# --- RFC 5424 syslog ---------------------------------------------------------------------

FACILITY_LOCAL0 = 16
NILVALUE = "-"


def _header_field(value: str | None, limit: int) -> str:
    # PRINTUSASCII only (33-126); anything else would break the space-separated header.
    if not value:
        return NILVALUE
    cleaned = "".join(c if 33 <= ord(c) <= 126 else "_" for c in value)[:limit]
    return cleaned or NILVALUE


def syslog_severity(cef_sev: int) -> int:
    """RFC 5424 severity (0 emergency .. 7 debug) for a CEF severity 0-10."""
    if cef_sev >= 9:
        return 2  # critical
    if cef_sev >= 7:
        return 3  # error
    if cef_sev >= 4:
        return 4  # warning
    if cef_sev >= 1:
        return 5  # notice
    return 6  # informational


def frame_syslog(
    message: str | bytes,
    hostname: str,
    app_name: str = "phantomwatch",
    msgid: str | None = None,
    *,
    facility: int = FACILITY_LOCAL0,
    severity: int = 5,
    procid: str | None = None,
    now: datetime | None = None,
    bom: bool = False,
) -> bytes:
    """`<PRI>1 TIMESTAMP HOSTNAME APP-NAME PROCID MSGID - MSG` (RFC 5424, no structured data).

    No BOM by default: CEF parsers expect `CEF:` first and RFC 5424 allows
    MSG-ANY; pass `bom=True` for collectors that insist on MSG-UTF8.
    """
    if not 0 <= facility <= 23 or not 0 <= severity <= 7:
        raise ValueError("facility is 0-23 and severity 0-7")
    stamp = utc(now or datetime.now(UTC)).isoformat(timespec="microseconds")
    header = " ".join(
        [
            f"<{facility * 8 + severity}>1",
            stamp.replace("+00:00", "Z"),
            _header_field(hostname, 255),
            _header_field(app_name, 48),
            _header_field(procid, 128),
            _header_field(msgid, 32),
            NILVALUE,
        ]
    )
    body = message.encode() if isinstance(message, str) else message
    return header.encode() + b" " + (b"\xef\xbb\xbf" if bom else b"") + body


def render_cef_syslog(
    event: WebhookEvent,
    hostname: str,
    *,
    facility: int = FACILITY_LOCAL0,
    now: datetime | None = None,
) -> bytes:
    """The CEF line of `event` in an RFC 5424 frame, MSGID = event type, severity mapped."""
    return frame_syslog(
        render_cef(event),
        hostname,
        msgid=event.type,
        facility=facility,
        severity=syslog_severity(cef_severity(event)),
        now=now,
    )


def octet_count(frame: bytes) -> bytes:
    """RFC 6587 octet-counting framing for TCP/TLS: `MSG-LEN SP SYSLOG-MSG`."""
    return str(len(frame)).encode() + b" " + frame

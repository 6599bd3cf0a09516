"""CEF rendering and escaping, RFC 5424 framing, RFC 6587 octet counting, parsed back."""

from __future__ import annotations

import socket
import time
from datetime import UTC, datetime
from typing import Any

import pytest

from service import __version__
from service.webhooks.events import WebhookEvent, payload, sample_event
from service.webhooks.formats import (
    cef_ext_escape,
    cef_header_escape,
    frame_syslog,
    octet_count,
    render_cef,
    render_cef_syslog,
    syslog_severity,
)
from tests.webhooks.receivers import (
    OctetCountingDecoder,
    SyslogTcpReceiver,
    SyslogUdpReceiver,
    parse_cef,
    parse_frame,
    parse_syslog,
)

NOW = datetime(2026, 11, 1, 9, 30, 15, 123456, tzinfo=UTC)


def _event(**alert_changes: Any) -> WebhookEvent:
    base = sample_event()
    data = payload(base)["data"]
    data["alert"].update(alert_changes)
    return WebhookEvent(base.id, base.type, base.timestamp, data)


@pytest.mark.parametrize(
    ("raw", "escaped"),
    [
        ("plain", "plain"),
        ("a|b", "a\\|b"),
        ("back\\slash", "back\\\\slash"),
        ("\\|", "\\\\\\|"),
        ("a=b", "a=b"),
        ("two\nlines", "two lines"),
    ],
)
def test_header_escaping(raw: str, escaped: str) -> None:
    assert cef_header_escape(raw) == escaped


@pytest.mark.parametrize(
    ("raw", "escaped"),
    [
        ("plain text", "plain text"),
        ("a=b", "a\\=b"),
        ("back\\slash", "back\\\\slash"),
        ("pipe|stays", "pipe|stays"),
        ("line\nfeed", "line\\nfeed"),
        ("cr\rlf\r\n", "cr\\rlf\\n"),
        ("\\=", "\\\\\\="),
    ],
)
def test_extension_escaping(raw: str, escaped: str) -> None:
    assert cef_ext_escape(raw) == escaped


def test_cef_line_for_the_sample_alert() -> None:
    line = render_cef(sample_event())
    assert line.startswith(
        f"CEF:0|PhantomWatch|PhantomWatch|{__version__}|alert.created|Lookalike domain detected|10|"
    )
    parsed = parse_cef(line)
    ext = parsed["extension"]
    assert ext["dhost"] == "xn--examplebnk-login-0dn.com"
    assert ext["externalId"] == "4242"
    assert ext["rt"] == str(int(sample_event().timestamp.timestamp() * 1000))
    assert ext["act"] == "created"
    assert ext["cn1Label"] == "score"
    assert ext["cn1"] == "91"
    assert parsed["fields"] == {
        "brand": "ExampleBank",
        "techniques": "homoglyph,keyword_append",
        "unicodeDomain": "examplebаnk-login.com",
        "eventId": "evt_test_31337",
        "status": "new",
        "registrable": "xn--examplebnk-login-0dn.com",
        "score": "91",
    }
    assert "\n" not in line


def test_hostile_values_round_trip_through_a_cef_parser() -> None:
    brand = "Evil|Brand = \\ corp\nnext=line"
    event = _event(brand=brand, unicode="a=b|c\\d")
    line = render_cef(event)
    assert "\n" not in line
    assert "\r" not in line
    parsed = parse_cef(line)
    assert parsed["fields"]["brand"] == brand
    assert parsed["fields"]["unicodeDomain"] == "a=b|c\\d"
    assert parsed["severity"] == 10


@pytest.mark.parametrize(
    ("severity", "cef"), [("low", 3), ("medium", 5), ("high", 8), ("critical", 10), ("??", 5)]
)
def test_severity_mapping(severity: str, cef: int) -> None:
    assert parse_cef(render_cef(_event(severity=severity)))["severity"] == cef


def test_status_change_and_source_events() -> None:
    base = sample_event()
    data = payload(base)["data"]
    data["event"].update(
        kind="status_changed", from_status="new", to_status="confirmed", actor="ana", note="x=y"
    )
    changed = WebhookEvent("evt_9", "alert.status_changed", base.timestamp, data)
    parsed = parse_cef(render_cef(changed))
    assert parsed["signature_id"] == "alert.status_changed"
    assert parsed["extension"]["suser"] == "ana"
    assert parsed["extension"]["msg"].endswith(": new -> confirmed: x=y")
    source = WebhookEvent(
        "evt_src",
        "source.unhealthy",
        base.timestamp,
        {"source": {"kind": "ct", "id": 3, "name": "Argon"}, "reason": "bad STH | again"},
    )
    parsed = parse_cef(render_cef(source))
    assert parsed["severity"] == 7
    assert parsed["fields"] == {"source": "Argon", "eventId": "evt_src"}
    assert parsed["extension"]["msg"] == "bad STH | again"


def test_empty_values_and_their_labels_are_dropped() -> None:
    ext = parse_cef(render_cef(_event(registrable=None, techniques=[])))["extension"]
    assert "cs6" not in ext
    assert "cs6Label" not in ext
    assert "cs2" not in ext
    assert "cs2Label" not in ext


def test_long_messages_are_capped() -> None:
    ext = parse_cef(render_cef(_event(brand="B" * 5000)))["extension"]
    assert len(ext["msg"]) == 1023


def test_rfc5424_frame() -> None:
    frame = frame_syslog("CEF:0|x", "pw-host", msgid="alert.created", severity=3, now=NOW)
    assert (
        frame
        == b"<131>1 2026-11-01T09:30:15.123456Z pw-host phantomwatch - alert.created - CEF:0|x"
    )
    parsed = parse_syslog(frame)
    assert (parsed["facility"], parsed["severity"]) == (16, 3)
    assert parsed["msg"] == "CEF:0|x"


def test_header_fields_are_sanitized() -> None:
    frame = frame_syslog("m", "host with space", app_name="", msgid="x" * 40, now=NOW)
    parsed = parse_syslog(frame)
    assert parsed["hostname"] == "host_with_space"
    assert parsed["app_name"] == "-"
    assert parsed["msgid"] == "x" * 32
    with pytest.raises(ValueError, match="facility"):
        frame_syslog("m", "h", facility=24)


def test_bom_is_optional() -> None:
    frame = frame_syslog("é", "h", now=NOW, bom=True)
    assert b" - \xef\xbb\xbf\xc3\xa9" in frame
    assert parse_syslog(frame)["bom"] is True
    assert parse_syslog(frame)["msg"] == "é"


def test_cef_in_syslog_maps_severity() -> None:
    entry = parse_frame(render_cef_syslog(sample_event(), "pw-1", now=NOW))
    assert entry["syslog"]["severity"] == syslog_severity(10) == 2
    assert entry["syslog"]["msgid"] == "alert.created"
    assert entry["cef"]["fields"]["eventId"] == "evt_test_31337"
    assert [syslog_severity(s) for s in (0, 3, 5, 8, 10)] == [6, 5, 4, 3, 2]


def test_octet_counting_counts_bytes_not_characters() -> None:
    frame = frame_syslog("é", "h", now=NOW)
    assert octet_count(frame) == f"{len(frame)} ".encode() + frame
    assert len(frame) != len(frame.decode())


def test_decoder_handles_any_chunking() -> None:
    frames = [frame_syslog(f"message {i} é", "h", now=NOW) for i in range(5)]
    stream = b"".join(octet_count(f) for f in frames)
    for size in (1, 2, 7, 64, len(stream)):
        decoder = OctetCountingDecoder()
        out: list[bytes] = []
        for i in range(0, len(stream), size):
            out += decoder.feed(stream[i : i + size])
        assert out == frames
        assert decoder.pending == 0


def test_decoder_rejects_non_octet_counted_input() -> None:
    with pytest.raises(ValueError, match="MSG-LEN"):
        OctetCountingDecoder().feed(b"<13>1 - - - - - - hi\n")


def _tcp_send(url: str, chunks: list[bytes]) -> None:
    port = int(url.rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port)) as conn:
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        for chunk in chunks:
            conn.sendall(chunk)
            time.sleep(0.05)  # separate reads on the receiving side


def test_tcp_receiver_multiple_frames_in_one_read(tcp_receiver: SyslogTcpReceiver) -> None:
    frames = [render_cef_syslog(sample_event(), f"h{i}", now=NOW) for i in range(3)]
    _tcp_send(tcp_receiver.start(), [b"".join(octet_count(f) for f in frames)])
    assert tcp_receiver.wait_for(3)
    assert tcp_receiver.reads == [sum(len(octet_count(f)) for f in frames)]
    assert [e["syslog"]["hostname"] for e in tcp_receiver.received] == ["h0", "h1", "h2"]
    assert tcp_receiver.errors == []


def test_tcp_receiver_frame_split_across_reads(tcp_receiver: SyslogTcpReceiver) -> None:
    data = octet_count(render_cef_syslog(sample_event(), "split", now=NOW))
    _tcp_send(tcp_receiver.start(), [data[:2], data[2:40], data[40:]])
    assert tcp_receiver.wait_for(1)
    assert len(tcp_receiver.reads) == 3
    assert tcp_receiver.received[0]["raw"] == data.split(b" ", 1)[1]
    assert tcp_receiver.cef[0]["fields"]["brand"] == "ExampleBank"
    assert tcp_receiver.errors == []


def test_udp_receiver_parses_datagrams(udp_receiver: SyslogUdpReceiver) -> None:
    url = udp_receiver.start()
    port = int(url.rsplit(":", 1)[1])
    frame = render_cef_syslog(sample_event(), "pw-udp", now=NOW)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.sendto(frame, ("127.0.0.1", port))
    assert udp_receiver.wait_for(1)
    assert udp_receiver.received[0]["syslog"]["hostname"] == "pw-udp"
    assert udp_receiver.cef[0]["extension"]["dhost"] == "xn--examplebnk-login-0dn.com"

"""SyslogSender over UDP, TCP and TLS to the real receivers, under the same SSRF policy."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import pytest

from service.webhooks.events import sample_event
from service.webhooks.formats import render_cef_syslog
from service.webhooks.transport import (
    AttemptResult,
    DeliveryFailed,
    SyslogSender,
    TargetRefused,
)
from tests.webhooks.conftest import LOOPBACK, Pki
from tests.webhooks.receivers import SyslogTcpReceiver, SyslogUdpReceiver

NOW = datetime(2026, 11, 1, 9, 30, tzinfo=UTC)


def frame(host: str = "pw-1") -> bytes:
    return render_cef_syslog(sample_event(), host, now=NOW)


def send(target: str, frames: Sequence[bytes], **kwargs: Any) -> AttemptResult:
    sender = SyslogSender(**{"allow_private": LOOPBACK, **kwargs})
    return asyncio.run(sender.send_many(target, frames))


def test_tcp_octet_counted(tcp_receiver: SyslogTcpReceiver) -> None:
    result = send(tcp_receiver.url, [frame("a"), frame("b")])
    assert result.ok
    assert result.address == "127.0.0.1"
    assert tcp_receiver.wait_for(2)
    assert [e["syslog"]["hostname"] for e in tcp_receiver.received] == ["a", "b"]
    assert tcp_receiver.cef[0]["fields"]["eventId"] == "evt_test_31337"
    assert tcp_receiver.errors == []


def test_udp(udp_receiver: SyslogUdpReceiver) -> None:
    sender = SyslogSender(LOOPBACK)
    assert asyncio.run(sender.send(udp_receiver.start(), frame())).ok
    assert udp_receiver.wait_for(1)
    assert udp_receiver.cef[0]["signature_id"] == "alert.created"


def test_tls_with_a_private_ca(pki: Pki) -> None:
    with SyslogTcpReceiver(tls=pki.server_context()) as receiver:
        target = f"tls://localhost:{receiver.port}"
        assert send(target, [frame()], ca_file=str(pki.ca_file)).ok
        assert receiver.wait_for(1)
        assert receiver.cef[0]["fields"]["brand"] == "ExampleBank"
        with pytest.raises(DeliveryFailed) as info:
            send(target, [frame()])  # system trust store: unknown CA
        assert not info.value.retryable
        assert send(target, [frame()], verify=False).ok
        assert receiver.wait_for(2)


def test_tls_checks_the_target_name_not_the_pinned_ip(pki: Pki) -> None:
    async def resolve(host: str, port: int) -> list[str]:
        return ["127.0.0.1"]

    with SyslogTcpReceiver(tls=pki.server_context()) as receiver:
        ok = f"tls://hook.test:{receiver.port}"
        assert send(ok, [frame()], ca_file=str(pki.ca_file), resolver=resolve).ok
        with pytest.raises(DeliveryFailed):
            send(
                f"tls://nothere.test:{receiver.port}",
                [frame()],
                ca_file=str(pki.ca_file),
                resolver=resolve,
            )


def test_refused_connection_is_retryable() -> None:
    receiver = SyslogTcpReceiver()
    target = receiver.start()
    receiver.stop()
    with pytest.raises(DeliveryFailed) as info:
        send(target, [frame()], timeout=2)
    assert info.value.retryable
    assert info.value.result is not None


def test_private_targets_refused_by_default(tcp_receiver: SyslogTcpReceiver) -> None:
    for target in (tcp_receiver.url, "udp://10.0.0.1:514", "tls://[::1]:6514"):
        with pytest.raises(TargetRefused):
            send(target, [frame()], allow_private=False)
    assert tcp_receiver.received == []


@pytest.mark.parametrize("target", ["http://x:514", "tcp://:514", "udp://host:notaport", "x"])
def test_bad_targets(target: str) -> None:
    with pytest.raises(TargetRefused):
        send(target, [frame()])


def test_udp_frames_over_a_datagram_are_refused() -> None:
    with pytest.raises(DeliveryFailed) as info:
        send("udp://127.0.0.1:9", [b"x" * 70_000])
    assert not info.value.retryable

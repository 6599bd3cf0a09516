"""HttpSender against real receivers: outcomes, retry classes, caps and the SSRF policy."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime
from typing import Any, TypeVar

import httpx
import pytest

from service.webhooks.events import sample_event
from service.webhooks.formats import HttpRequestSpec, render_json, render_splunk
from service.webhooks.transport import (
    AttemptResult,
    DeliveryError,
    DeliveryFailed,
    HttpSender,
    TargetRefused,
    parse_retry_after,
    redact_url,
)
from tests.webhooks.conftest import LOOPBACK, SECRET, Pki
from tests.webhooks.receivers import HttpReceiver

T = TypeVar("T")


def run(factory: Callable[[], Awaitable[T]]) -> T:
    async def go() -> T:
        return await factory()

    return asyncio.run(go())


def spec() -> HttpRequestSpec:
    return render_json(sample_event(), [SECRET], datetime.now(UTC))


def resolver_for(mapping: dict[str, list[str]], calls: list[str] | None = None) -> Any:
    async def resolve(host: str, port: int) -> Sequence[str]:
        if calls is not None:
            calls.append(host)
        if host not in mapping:
            raise OSError(f"NXDOMAIN {host}")
        return mapping[host]

    return resolve


async def send(url: str, **kwargs: Any) -> AttemptResult:
    async with HttpSender(**{"allow_private": LOOPBACK, **kwargs}) as sender:
        return await sender.send(url, spec())


async def fails(url: str, **kwargs: Any) -> DeliveryError:
    with pytest.raises(DeliveryError) as info:
        await send(url, **kwargs)
    return info.value


def test_2xx_is_ok_and_the_receiver_verified_it(http_receiver: HttpReceiver) -> None:
    result = run(lambda: send(http_receiver.url))
    assert result.ok
    assert result.status_code == 200
    assert result.response_excerpt == '{"ok":true}'
    assert result.latency_ms > 0
    assert result.address == "127.0.0.1"
    assert http_receiver.ids == ["evt_test_31337"]
    assert http_receiver.errors == []


def test_500_is_retryable_then_recovers(http_receiver: HttpReceiver) -> None:
    http_receiver.fail_next(1, 500)
    error = run(lambda: fails(http_receiver.url))
    assert isinstance(error, DeliveryFailed)
    assert (error.status, error.retryable) == (500, True)
    assert error.result is not None
    assert error.result.response_excerpt == "status 500"
    assert http_receiver.ids == []
    assert run(lambda: send(http_receiver.url)).ok
    assert http_receiver.ids == ["evt_test_31337"]


@pytest.mark.parametrize(
    ("status", "retryable"),
    [(400, False), (401, False), (404, False), (410, False), (408, True), (429, True), (503, True)],
)
def test_status_classes(http_receiver: HttpReceiver, status: int, retryable: bool) -> None:
    http_receiver.fail_next(1, status)
    error = run(lambda: fails(http_receiver.url))
    assert isinstance(error, DeliveryFailed)
    assert (error.status, error.retryable) == (status, retryable)


def test_retry_after_is_parsed(http_receiver: HttpReceiver) -> None:
    http_receiver.fail_next(1, 429, retry_after=7)
    error = run(lambda: fails(http_receiver.url))
    assert error.retry_after == 7.0
    assert error.result is not None
    assert error.result.retry_after == 7.0


def test_retry_after_forms() -> None:
    assert parse_retry_after("120") == 120.0
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now=1445412480.0 - 60) == 60.0
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now=2e9) == 0.0
    assert parse_retry_after("soon") is None
    assert parse_retry_after(None) is None


def test_timeout_is_retryable_and_redelivery_dedupes(http_receiver: HttpReceiver) -> None:
    http_receiver.delay = 3.0
    error = run(lambda: fails(http_receiver.url, timeout=0.3))
    assert isinstance(error, DeliveryFailed)
    assert (error.status, error.retryable) == (None, True)
    assert error.result is not None
    assert error.result.error == "timed out"
    assert error.result.latency_ms < 2000
    http_receiver.delay = 0
    assert run(lambda: send(http_receiver.url)).ok
    # processed twice, once from the receiver's point of view
    assert http_receiver.ids == ["evt_test_31337"]
    assert http_receiver.duplicates == ["evt_test_31337"]


def test_redirects_are_not_followed(http_receiver: HttpReceiver) -> None:
    http_receiver.redirect_to = "http://169.254.169.254/latest/meta-data/"
    error = run(lambda: fails(http_receiver.url))
    assert isinstance(error, DeliveryFailed)
    assert (error.status, error.retryable) == (302, False)
    assert "redirect" in str(error)
    assert len(http_receiver.received) == 1


def test_oversize_response_is_capped(http_receiver: HttpReceiver) -> None:
    http_receiver.response_body = b"x" * 300_000
    result = run(lambda: send(http_receiver.url, max_response_bytes=1024))
    assert result.ok
    assert result.truncated
    assert result.response_excerpt == "x" * 512


def test_crashed_receiver_then_restart_on_the_same_port(http_receiver: HttpReceiver) -> None:
    url = http_receiver.url
    http_receiver.kill()
    error = run(lambda: fails(url))
    assert isinstance(error, DeliveryFailed)
    assert error.retryable
    assert error.status is None
    assert http_receiver.start() == url
    assert run(lambda: send(url)).ok


def test_dropped_connection_after_processing(http_receiver: HttpReceiver) -> None:
    http_receiver.drop_next(1)
    error = run(lambda: fails(http_receiver.url))
    assert isinstance(error, DeliveryFailed)
    assert error.retryable
    assert run(lambda: send(http_receiver.url)).ok
    assert http_receiver.ids == ["evt_test_31337"]
    assert http_receiver.duplicates == ["evt_test_31337"]


def test_bad_signature_is_a_401(http_receiver: HttpReceiver) -> None:
    async def go() -> None:
        async with HttpSender(LOOPBACK) as sender:
            bad = render_json(sample_event(), ["whsec_d3Jvbmcgc2VjcmV0"], datetime.now(UTC))
            await sender.send(http_receiver.url, bad)

    with pytest.raises(DeliveryFailed) as info:
        run(go)
    assert (info.value.status, info.value.retryable) == (401, False)
    assert http_receiver.ids == []


def test_splunk_receiver_checks_the_token() -> None:
    with HttpReceiver(splunk_token="tok-1") as receiver:

        async def go(token: str) -> AttemptResult:
            async with HttpSender(LOOPBACK) as sender:
                return await sender.send(receiver.url, render_splunk(sample_event(), token, "pw"))

        assert run(lambda: go("tok-1")).ok
        with pytest.raises(DeliveryFailed):
            run(lambda: go("wrong"))
        assert receiver.ids == ["evt_test_31337"]


# --- SSRF policy ---------------------------------------------------------------------------


def test_loopback_receiver_refused_unless_allowed(http_receiver: HttpReceiver) -> None:
    error = run(lambda: fails(http_receiver.url, allow_private=False))
    assert isinstance(error, TargetRefused)
    assert not error.retryable
    assert http_receiver.received == []
    assert run(lambda: send(http_receiver.url, allow_private=True)).ok


@pytest.mark.parametrize(
    "url",
    [
        "http://[::1]/hook",
        "http://[::1]:8080/hook",
        "http://169.254.169.254/latest/meta-data/",
        "http://10.1.2.3/",
        "http://192.168.0.1/",
        "http://100.64.0.1/",  # carrier-grade NAT
        "http://0.0.0.0/",
        "http://224.0.0.1/",
        "http://[::ffff:127.0.0.1]/",  # IPv4-mapped loopback
        "http://[64:ff9b::a9fe:a9fe]/",  # NAT64 of 169.254.169.254
        "http://[2002:7f00:1::1]/",  # 6to4 of 127.0.0.1
        "http://[fe80::1]/",
        "http://[fd00::1]/",
    ],
)
def test_non_public_literals_are_refused(url: str) -> None:
    error = run(lambda: fails(url, allow_private=False))
    assert isinstance(error, TargetRefused)


def test_hostname_resolving_to_private_is_refused() -> None:
    resolver = resolver_for({"siem.example.com": ["10.20.30.40"]})
    error = run(
        lambda: fails("https://siem.example.com/hook", resolver=resolver, allow_private=False)
    )
    assert isinstance(error, TargetRefused)
    assert "10.20.30.40" in str(error)


def test_one_private_address_among_public_ones_refuses_the_name() -> None:
    resolver = resolver_for({"rebind.example": ["93.184.216.34", "127.0.0.1"]})
    error = run(lambda: fails("https://rebind.example/", resolver=resolver, allow_private=False))
    assert isinstance(error, TargetRefused)


def test_allow_list_admits_only_its_networks() -> None:
    resolver = resolver_for({"siem.corp": ["10.20.30.40"], "other.corp": ["192.168.1.1"]})
    # allowed but nothing listens there: a network failure, not a refusal
    error = run(
        lambda: fails(
            "http://siem.corp:9/", resolver=resolver, allow_private=["10.0.0.0/8"], timeout=0.5
        )
    )
    assert isinstance(error, DeliveryFailed)
    error = run(
        lambda: fails("http://other.corp/", resolver=resolver, allow_private=["10.0.0.0/8"])
    )
    assert isinstance(error, TargetRefused)


@pytest.mark.parametrize(
    "url", ["ftp://example.com/", "file:///etc/passwd", "gopher://x/", "//no-scheme", "http://"]
)
def test_only_http_and_https(url: str) -> None:
    error = run(lambda: fails(url))
    assert isinstance(error, TargetRefused)


def test_unresolvable_name_is_retryable() -> None:
    error = run(lambda: fails("https://nx.example/", resolver=resolver_for({})))
    assert isinstance(error, DeliveryFailed)
    assert error.retryable


def test_connection_is_pinned_to_the_checked_address(http_receiver: HttpReceiver) -> None:
    calls: list[str] = []
    resolver = resolver_for({"hook.test": ["127.0.0.1"]}, calls)
    url = f"http://hook.test:{http_receiver.port}/hook"
    assert run(lambda: send(url, resolver=resolver)).ok
    assert calls == ["hook.test"]  # resolved once, by us; httpx connected to the IP
    assert http_receiver.accepted[0].headers["host"] == f"hook.test:{http_receiver.port}"


def test_https_pinned_ip_still_verifies_the_name(pki: Pki) -> None:
    with HttpReceiver(SECRET, tls=pki.server_context()) as receiver:
        resolver = resolver_for({"hook.test": ["127.0.0.1"], "wrong.test": ["127.0.0.1"]})
        good = f"https://hook.test:{receiver.port}/hook"
        result = run(lambda: send(good, resolver=resolver, verify=pki.client_context()))
        assert result.ok
        assert receiver.ids == ["evt_test_31337"]
        # the certificate does not name wrong.test: pinning must not skip the check
        wrong = f"https://wrong.test:{receiver.port}/hook"
        error = run(lambda: fails(wrong, resolver=resolver, verify=pki.client_context()))
        assert isinstance(error, DeliveryFailed)
        assert not error.retryable
        # and an unknown CA is refused too
        error = run(lambda: fails(good, resolver=resolver))
        assert isinstance(error, DeliveryFailed)
        assert not error.retryable
        assert len(receiver.received) == 1


def test_mock_transport_sees_ip_url_host_header_and_sni() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(202, text="queued")

    async def go() -> AttemptResult:
        resolver = resolver_for({"hooks.example.com": ["93.184.216.34"]})
        async with HttpSender(transport=httpx.MockTransport(handler), resolver=resolver) as sender:
            return await sender.send("https://hooks.example.com/in?token=abc", spec())

    result = run(go)
    assert result.ok
    assert result.status_code == 202
    request = seen[0]
    assert request.url.host == "93.184.216.34"
    assert request.url.query == b"token=abc"
    assert request.headers["host"] == "hooks.example.com"
    assert request.extensions["sni_hostname"] == "hooks.example.com"
    assert request.headers["webhook-id"] == "evt_test_31337"


def test_logs_hold_no_secrets(caplog: pytest.LogCaptureFixture) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(500)

    async def go() -> None:
        resolver = resolver_for({"user:pw@hooks.example.com": [], "hooks.example.com": ["8.8.8.8"]})
        async with HttpSender(transport=httpx.MockTransport(handler), resolver=resolver) as sender:
            hec = render_splunk(sample_event(), "SPLUNKTOKEN", "pw")
            await sender.send("https://user:pw@hooks.example.com/x?token=QUERYTOKEN", hec)

    caplog.set_level(logging.DEBUG, logger="service.webhooks")
    with pytest.raises(DeliveryFailed) as info:
        run(go)
    text = caplog.text + str(info.value)
    assert "hooks.example.com" in text
    for secret in ("SPLUNKTOKEN", "QUERYTOKEN", "user:pw"):
        assert secret not in text
    shown = redact_url("https://u:p@h.example:8443/services/T0/B0/SECRET?q=1")
    assert shown.startswith("https://h.example:8443/…#")
    assert "SECRET" not in shown
    assert "u:p" not in shown
    assert redact_url("https://h.example/") == "https://h.example/"

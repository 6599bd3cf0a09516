"""The HTTP client on an injected transport: retries, jitter, Retry-After, caps, headers."""

from __future__ import annotations

import asyncio
import email.utils
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable

import httpx
import pytest

from service import __version__
from service.retry import parse_retry_after
from service.sources.ct.errors import BadResponse, LogUnavailable
from service.sources.ct.http import CTHttpClient, HttpConfig

Handler = Callable[[httpx.Request], httpx.Response]


def _client(handler: Handler, sleeps: list[float], **config: object) -> CTHttpClient:
    async def sleep(seconds: float) -> None:
        sleeps.append(seconds)

    return CTHttpClient(
        HttpConfig(**config),  # type: ignore[arg-type]
        transport=httpx.MockTransport(handler),
        sleep=sleep,
        rng=lambda: 1.0,
    )


def _get(client: CTHttpClient, url: str = "https://log.example/x") -> bytes:
    async def go() -> bytes:
        async with client:
            return await client.get(url, log="a")

    return asyncio.run(go())


def test_retries_5xx_with_exponential_backoff_then_succeeds() -> None:
    calls = Counter[str]()

    def handler(request: httpx.Request) -> httpx.Response:
        calls["n"] += 1
        return httpx.Response(502 if calls["n"] <= 3 else 200, content=b"ok")

    sleeps: list[float] = []
    assert _get(_client(handler, sleeps)) == b"ok"
    assert sleeps == pytest.approx([0.1, 0.2, 0.4])  # rng=1.0: the top of each jitter window


def test_backoff_is_capped_and_full_jitter() -> None:
    client = CTHttpClient(HttpConfig(backoff_max=30.0), rng=lambda: 1.0)
    assert client.backoff(0) == pytest.approx(0.1)
    assert client.backoff(20) == 30.0
    jittered = CTHttpClient(rng=lambda: 0.25)
    assert jittered.backoff(3) == pytest.approx(0.2)


def test_persistent_5xx_raises_log_unavailable_after_bounded_attempts() -> None:
    calls = Counter[str]()

    def handler(request: httpx.Request) -> httpx.Response:
        calls["n"] += 1
        return httpx.Response(500)

    sleeps: list[float] = []
    with pytest.raises(LogUnavailable) as info:
        _get(_client(handler, sleeps, max_attempts=4))
    assert calls["n"] == 4
    assert len(sleeps) == 3
    assert info.value.status == 500


def test_retry_after_seconds_and_http_date() -> None:
    answers = iter(
        [
            httpx.Response(503, headers={"Retry-After": "2"}),
            httpx.Response(429, headers={"Retry-After": "7"}),
            httpx.Response(200, content=b"fine"),
        ]
    )
    sleeps: list[float] = []
    assert _get(_client(lambda r: next(answers), sleeps)) == b"fine"
    assert sleeps == pytest.approx([2.0, 7.0], abs=0.05)
    later = email.utils.formatdate(time.time() + 120, usegmt=True)
    assert parse_retry_after(later) == pytest.approx(120, abs=2)
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0
    assert parse_retry_after("soon") is None
    assert parse_retry_after(None) is None


def test_retry_after_beyond_the_limit_is_handed_back() -> None:
    sleeps: list[float] = []
    client = _client(
        lambda r: httpx.Response(429, headers={"Retry-After": "3600"}), sleeps, max_retry_after=60
    )
    with pytest.raises(LogUnavailable) as info:
        _get(client)
    assert info.value.retry_after == 3600
    assert info.value.status == 429
    assert sleeps == []


def test_4xx_is_a_bad_response_without_retry() -> None:
    calls = Counter[str]()

    def handler(request: httpx.Request) -> httpx.Response:
        calls["n"] += 1
        return httpx.Response(404)

    with pytest.raises(BadResponse) as info:
        _get(_client(handler, []))
    assert info.value.status == 404
    assert calls["n"] == 1


def test_transport_errors_are_retried() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    sleeps: list[float] = []
    with pytest.raises(LogUnavailable, match="ConnectError"):
        _get(_client(handler, sleeps, max_attempts=3))
    assert len(sleeps) == 2


def test_response_size_cap_declared_and_streamed() -> None:
    with pytest.raises(BadResponse, match="cap"):
        _get(
            _client(lambda r: httpx.Response(200, content=b"x" * 5000), [], max_response_bytes=1000)
        )

    async def chunks() -> AsyncIterator[bytes]:
        yield b"x" * 600
        yield b"y" * 600

    def stream(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=chunks())  # chunked: no Content-Length

    with pytest.raises(BadResponse, match="cap"):
        _get(_client(stream, [], max_response_bytes=1000))


def test_headers_user_agent_and_accept_encoding() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200)

    _get(_client(handler, [], contact_url="https://ops.example/ct"))
    assert seen[0].headers["User-Agent"] == f"PhantomWatch/{__version__} (+https://ops.example/ct)"
    assert seen[0].headers["Accept-Encoding"] == "gzip, identity"
    _get(_client(handler, [], user_agent="Custom/1"))
    assert seen[1].headers["User-Agent"] == "Custom/1"


def test_per_log_and_global_concurrency_limits() -> None:
    active: Counter[str] = Counter()
    peak: Counter[str] = Counter()

    async def handler(request: httpx.Request) -> httpx.Response:
        log = request.url.path.split("/")[1]
        active[log] += 1
        active["all"] += 1
        peak[log] = max(peak[log], active[log])
        peak["all"] = max(peak["all"], active["all"])
        await asyncio.sleep(0.01)
        active[log] -= 1
        active["all"] -= 1
        return httpx.Response(200)

    async def go() -> None:
        config = HttpConfig(per_log_concurrency=2, global_concurrency=3)
        async with CTHttpClient(config, transport=httpx.MockTransport(handler)) as client:
            await asyncio.gather(
                *(client.get(f"https://h/{log}/x", log=log) for log in "aaaaabbbbbccccc")
            )

    asyncio.run(go())
    assert max(peak["a"], peak["b"], peak["c"]) == 2
    assert peak["all"] == 3

"""LlmClient against the fake server over real HTTP: samples, n, retries, limits, secrets."""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
import time
from collections.abc import Coroutine
from typing import Any, TypeVar

import httpx
import pytest

from service import __version__
from service.sources.phantom.errors import (
    BudgetExhausted,
    LlmBadResponse,
    LlmConfigError,
    LlmUnavailable,
)
from service.sources.phantom.llm import LlmClient, LlmEndpoint, RequestBudget, TokenBucket
from tests.phantom.fake_llm import FakeLlm

T = TypeVar("T")
LOGIN = [{"role": "user", "content": "Where do I log in to my Acme account?"}]
FAST: dict[str, Any] = {"backoff_initial": 0.01, "backoff_max": 0.02, "max_attempts": 3}


def run(coro: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coro)


def endpoint(fake: FakeLlm, **kw: Any) -> LlmEndpoint:
    base: dict[str, Any] = {"name": "local", "url": fake.base_url, "model": "llama3.1:8b"}
    base.setdefault("requests_per_minute", 6000)
    base.update(kw)
    return LlmEndpoint(**base)


async def complete(ep: LlmEndpoint, **client_kw: Any) -> list[str]:
    async with LlmClient(ep, **{**FAST, **client_kw}) as client:
        return await client.complete(LOGIN)


def test_one_request_with_n_returns_every_sample(fake: FakeLlm) -> None:
    texts = run(complete(endpoint(fake, samples=3, temperature=0.9)))
    assert len(texts) == 3
    assert "login.acme.com" in texts[0]
    assert texts[0] != texts[1]
    (req,) = fake.requests
    assert req.method == "POST"
    assert req.path == "/v1/chat/completions"
    assert req.body == {"model": "llama3.1:8b", "messages": LOGIN, "temperature": 0.9, "n": 3}
    assert req.headers["user-agent"] == f"PhantomWatch/{__version__}"
    assert req.headers["content-type"] == "application/json"
    assert "authorization" not in req.headers


def test_server_ignoring_n_is_asked_again_one_sample_at_a_time(fake: FakeLlm) -> None:
    fake.n_mode = "ignore"

    async def go() -> tuple[list[str], list[str], bool | None]:
        async with LlmClient(endpoint(fake, samples=3), **FAST) as client:
            first = await client.complete(LOGIN)
            second = await client.complete(LOGIN)
            return first, second, client.n_supported

    first, second, supported = run(go())
    assert len(first) == 3
    assert len(second) == 3
    assert supported is False
    bodies = [r.body for r in fake.requests]
    assert len(bodies) == 3 + 3
    assert bodies[0]["n"] == 3
    # Once known, `n` is no longer sent at all.
    assert all("n" not in b for b in bodies[1:])


def test_server_rejecting_n_falls_back_to_repeated_requests(fake: FakeLlm) -> None:
    fake.n_mode = "reject"
    texts = run(complete(endpoint(fake, samples=2)))
    assert len(texts) == 2
    assert [r.body.get("n") for r in fake.requests] == [2, None, None]


def test_retry_after_is_honoured(fake: FakeLlm) -> None:
    fake.retry_after = "1"
    fake.fail_next("429")
    started = time.monotonic()
    texts = run(complete(endpoint(fake, samples=1)))
    elapsed = time.monotonic() - started
    assert len(texts) == 1
    assert len(fake.requests) == 2
    gap = fake.requests[1].at - fake.requests[0].at
    assert gap >= 0.95
    assert elapsed >= 0.95


def test_retry_after_too_long_is_handed_back(fake: FakeLlm) -> None:
    fake.retry_after = "3600"
    fake.fail_next("429")
    with pytest.raises(LlmUnavailable) as info:
        run(complete(endpoint(fake, samples=1)))
    assert info.value.retry_after == 3600
    assert info.value.status == 429
    assert len(fake.requests) == 1


def test_500_is_retried_then_succeeds(fake: FakeLlm) -> None:
    fake.fail_next("500", 2)
    assert len(run(complete(endpoint(fake, samples=1)))) == 1
    assert len(fake.requests) == 3


def test_persistent_500_becomes_llm_unavailable(fake: FakeLlm) -> None:
    fake.fault = "500"
    with pytest.raises(LlmUnavailable) as info:
        run(complete(endpoint(fake, samples=1)))
    assert info.value.status == 500
    assert len(fake.requests) == 3  # max_attempts


def test_dropped_connections_become_llm_unavailable(fake: FakeLlm) -> None:
    fake.fault = "close"
    with pytest.raises(LlmUnavailable):
        run(complete(endpoint(fake, samples=1)))
    assert len(fake.requests) == 3


@pytest.mark.parametrize("fault", ["malformed", "no_choices", "huge", "401"])
def test_bad_answers_are_not_retried(fake: FakeLlm, fault: str) -> None:
    fake.fail_next(fault)
    with pytest.raises(LlmBadResponse) as info:
        run(complete(endpoint(fake, samples=1), max_response_bytes=1024 * 1024))
    assert len(fake.requests) == 1
    if fault == "401":
        assert info.value.status == 401


def test_timeout_is_retried_then_unavailable(fake: FakeLlm) -> None:
    fake.fault = "slow"
    fake.slow_seconds = 1.0
    started = time.monotonic()
    with pytest.raises(LlmUnavailable) as info:
        run(complete(endpoint(fake, samples=1, timeout=0.2), max_attempts=2))
    elapsed = time.monotonic() - started
    assert "Timeout" in str(info.value)
    assert len(fake.requests) == 2
    assert elapsed < 1.0  # did not wait for the slow server


def test_rate_limit_spaces_requests(fake: FakeLlm) -> None:
    ep = endpoint(fake, samples=1, requests_per_minute=600)  # one per 0.1 s

    async def go() -> None:
        async with LlmClient(ep, **FAST) as client:
            await asyncio.gather(*(client.complete(LOGIN) for _ in range(5)))

    started = time.monotonic()
    run(go())
    elapsed = time.monotonic() - started
    arrivals = [r.at for r in fake.requests]
    assert len(arrivals) == 5
    assert elapsed >= 0.4
    assert min(b - a for a, b in itertools.pairwise(arrivals)) >= 0.08


def test_token_bucket_on_a_virtual_clock() -> None:
    now = [100.0]
    waits: list[float] = []

    async def sleep(s: float) -> None:
        waits.append(s)

    async def go() -> None:
        bucket = TokenBucket(10, clock=lambda: now[0], sleep=sleep)  # one per 6 s
        for _ in range(3):
            await bucket.acquire()
        now[0] += 30  # idle: the bucket refills to its burst of 1, no more
        await bucket.acquire()
        await bucket.acquire()

    run(go())
    assert waits == pytest.approx([6.0, 12.0, 6.0])


def test_backoff_is_full_jitter_within_the_cap(fake: FakeLlm) -> None:
    fake.fault = "500"
    slept: list[float] = []

    async def sleep(s: float) -> None:
        slept.append(s)

    ep = endpoint(fake, samples=1, requests_per_minute=1e9)
    client_kw: dict[str, Any] = {"max_attempts": 4, "backoff_initial": 1.0, "backoff_max": 3.0}

    async def go() -> None:
        async with LlmClient(ep, sleep=sleep, rng=lambda: 0.5, **client_kw) as client:
            await client.complete(LOGIN)

    with pytest.raises(LlmUnavailable):
        run(go())
    # 0.5 x min(3, 1 x 2**attempt) after attempts 1..3; none after the last.
    assert [s for s in slept if s > 0.001] == [0.5, 1.0, 1.5]  # the rest is the rate limit


def test_api_key_only_as_bearer_and_never_logged(
    fake: FakeLlm, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    secret = "sk-test-4f1b2c9d8e7a"
    monkeypatch.setenv("PW_TEST_LLM_KEY", secret)
    ep = endpoint(fake, samples=1, api_key_env="PW_TEST_LLM_KEY")
    fake.fail_next("500")
    fake.fail_next("401")
    caplog.set_level(logging.DEBUG)

    async def go() -> LlmClient:
        async with LlmClient(ep, **FAST) as client:
            with pytest.raises(LlmBadResponse) as info:
                await client.complete(LOGIN)
            assert secret not in str(info.value)
            await client.complete(LOGIN)
            return client

    client = run(go())
    assert len(fake.requests) == 3
    for req in fake.requests:
        assert req.headers["authorization"] == f"Bearer {secret}"
        assert secret.encode() not in req.raw
        assert secret not in req.path
        others = {k: v for k, v in req.headers.items() if k != "authorization"}
        assert secret not in json.dumps(others)
    assert caplog.records  # the 500 retry was logged
    assert all(secret not in r.getMessage() for r in caplog.records)
    assert secret not in caplog.text
    assert secret not in repr(ep)
    assert secret not in repr(client)


def test_key_echoed_by_a_server_is_redacted(monkeypatch: pytest.MonkeyPatch) -> None:
    secret = "sk-echoed-0000"
    monkeypatch.setenv("PW_TEST_LLM_KEY", secret)

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(400, text=f"bad key {request.headers['authorization']}")

    ep = LlmEndpoint("mock", "http://llm.invalid/v1", "m", api_key_env="PW_TEST_LLM_KEY", samples=1)

    async def go() -> None:
        async with LlmClient(ep, httpx.MockTransport(handler)) as client:
            await client.complete(LOGIN)

    with pytest.raises(LlmBadResponse) as info:
        run(go())
    assert secret not in str(info.value)
    assert "Bearer ***" in str(info.value)


def test_missing_key_variable_sends_nothing(fake: FakeLlm, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PW_TEST_UNSET_KEY", raising=False)
    with pytest.raises(LlmConfigError, match="PW_TEST_UNSET_KEY"):
        run(complete(endpoint(fake, api_key_env="PW_TEST_UNSET_KEY")))
    assert fake.requests == []


def test_budget_stops_a_multi_request_completion_and_keeps_partial(fake: FakeLlm) -> None:
    fake.n_mode = "ignore"
    budget = RequestBudget(2)

    async def go() -> None:
        async with LlmClient(endpoint(fake, samples=3), **FAST) as client:
            await client.complete(LOGIN, budget=budget)

    with pytest.raises(BudgetExhausted) as info:
        run(go())
    assert len(info.value.partial) == 2
    assert budget.used == 2
    assert len(fake.requests) == 2


def test_refusals_and_content_parts_are_text(fake: FakeLlm) -> None:
    fake.responder = lambda model, prompt, i: "I'm sorry, but I can't help with that."
    assert (
        run(complete(endpoint(fake, samples=2))) == ["I'm sorry, but I can't help with that."] * 2
    )

    def parts(request: httpx.Request) -> httpx.Response:
        message = {"role": "assistant", "content": [{"type": "text", "text": "see acme.com"}]}
        refusal = {"role": "assistant", "content": None, "refusal": "I can't."}
        choices = [{"index": 1, "message": refusal}, {"index": 0, "message": message}]
        return httpx.Response(200, json={"choices": choices})

    async def go() -> list[str]:
        ep = LlmEndpoint("mock", "http://llm.invalid/v1", "m", samples=2)
        async with LlmClient(ep, httpx.MockTransport(parts)) as client:
            return await client.complete(LOGIN)

    assert run(go()) == ["see acme.com", "I can't."]


@pytest.mark.parametrize(
    "kw",
    [
        {"url": "localhost:11434/v1"},
        {"samples": 0},
        {"requests_per_minute": 0},
        {"timeout": 0},
        {"model": ""},
    ],
)
def test_endpoint_settings_are_validated(kw: dict[str, Any]) -> None:
    base: dict[str, Any] = {"name": "x", "url": "http://localhost:11434/v1", "model": "m"}
    with pytest.raises(ValueError):  # noqa: PT011
        LlmEndpoint(**{**base, **kw})

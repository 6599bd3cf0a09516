"""A minimal client for OpenAI-compatible chat APIs: n samples, rate limit, retries, budget."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import random
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Any

import httpx

from service import __version__
from service.retry import full_jitter, parse_retry_after
from service.sources.phantom.errors import (
    BudgetExhausted,
    LlmBadResponse,
    LlmConfigError,
    LlmUnavailable,
)

__all__ = [
    "RETRY_STATUSES",
    "USER_AGENT",
    "LlmClient",
    "LlmEndpoint",
    "Message",
    "RequestBudget",
    "TokenBucket",
]

log = logging.getLogger(__name__)

USER_AGENT = f"PhantomWatch/{__version__}"
RETRY_STATUSES = frozenset({408, 425, 429, 500, 502, 503, 504})

Message = Mapping[str, str]


@dataclass(frozen=True)
class LlmEndpoint:
    """One model behind one OpenAI-compatible API.

    `url` is the API base (``http://localhost:11434/v1`` for Ollama); requests go
    to ``{url}/chat/completions``. `api_key_env` is the NAME of the environment
    variable holding the key: the key itself never lives in settings or logs.
    """

    name: str
    url: str
    model: str
    api_key_env: str | None = None
    temperature: float = 0.7
    samples: int = 3  # answers per prompt: one request with `n`, or repeats
    requests_per_minute: float = 30.0
    timeout: float = 60.0

    def __post_init__(self) -> None:
        if not self.name or not self.model:
            raise ValueError("endpoint name and model are required")
        if not self.url.startswith(("http://", "https://")):
            raise ValueError(f"endpoint {self.name}: url must be http(s), got {self.url!r}")
        if self.samples < 1:
            raise ValueError(f"endpoint {self.name}: samples must be >= 1")
        if not self.requests_per_minute > 0:
            raise ValueError(f"endpoint {self.name}: requests_per_minute must be > 0")
        if not self.timeout > 0:
            raise ValueError(f"endpoint {self.name}: timeout must be > 0")

    @property
    def completions_url(self) -> str:
        return self.url.rstrip("/") + "/chat/completions"


class RequestBudget:
    """A per-run cap on HTTP requests, shared by every client of the run.

    Every attempt counts, retries included: they cost quota and rate limit too,
    and it makes "at most N requests" checkable against server logs.
    """

    def __init__(self, limit: int | None) -> None:
        if limit is not None and limit < 0:
            raise ValueError("budget must be >= 0")
        self.limit = limit
        self.used = 0

    @property
    def remaining(self) -> int | None:
        return None if self.limit is None else self.limit - self.used

    @property
    def exhausted(self) -> bool:
        return self.limit is not None and self.used >= self.limit

    def take(self) -> None:
        """Count one request, or raise BudgetExhausted without counting it."""
        if self.exhausted:
            raise BudgetExhausted(f"request budget of {self.limit} spent")
        self.used += 1


class TokenBucket:
    """Spaces requests at `per_minute`, letting at most `burst` go back to back.

    Time comes from `clock` and waits go through `sleep`, so tests can run it
    on a virtual clock: the bucket books waits ahead instead of polling.
    """

    def __init__(
        self,
        per_minute: float,
        *,
        burst: int = 1,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.rate = per_minute / 60.0
        self.burst = max(1, burst)
        self._clock = clock
        self._sleep = sleep
        self._tokens = float(self.burst)
        self._last = clock()
        self._lock = asyncio.Lock()

    async def acquire(self) -> None:
        async with self._lock:
            now = self._clock()
            self._tokens = min(float(self.burst), self._tokens + (now - self._last) * self.rate)
            self._last = now
            if self._tokens >= 1.0:
                self._tokens -= 1.0
                return
            wait = (1.0 - self._tokens) / self.rate
            # Book the token now: the refill up to `now + wait` is spent by this request.
            self._tokens = 0.0
            self._last = now + wait
            await self._sleep(wait)


class LlmClient:
    """Chat completions against one LlmEndpoint over one httpx.AsyncClient.

    Pass `transport` (any httpx.AsyncBaseTransport, e.g. httpx.MockTransport)
    to test without a network; `sleep`, `rng` and `clock` make waits testable.
    """

    def __init__(
        self,
        endpoint: LlmEndpoint,
        transport: httpx.AsyncBaseTransport | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        rng: Callable[[], float] = random.random,
        *,
        clock: Callable[[], float] = time.monotonic,
        max_attempts: int = 4,
        backoff_initial: float = 1.0,
        backoff_max: float = 30.0,
        # Longer waits are not slept through: LlmUnavailable(retry_after) hands
        # the decision back to the scheduler.
        max_retry_after: float = 120.0,
        # A long chat answer is tens of KB; n=10 of them well under 1 MB.
        max_response_bytes: int = 4 * 1024 * 1024,
        burst: int = 1,
    ) -> None:
        self.endpoint = endpoint
        self.max_attempts = max(1, max_attempts)
        self.backoff_initial = backoff_initial
        self.backoff_max = backoff_max
        self.max_retry_after = max_retry_after
        self.max_response_bytes = max_response_bytes
        self._sleep = sleep
        self._rng = rng
        self._clock = clock
        self.bucket = TokenBucket(
            endpoint.requests_per_minute, burst=burst, clock=clock, sleep=sleep
        )
        # None until the server shows whether it honours `n` (many local servers do not).
        self.n_supported: bool | None = None
        self._not_before = 0.0
        self._client = httpx.AsyncClient(
            transport=transport,
            timeout=httpx.Timeout(endpoint.timeout),
            headers={"User-Agent": USER_AGENT, "Accept": "application/json"},
            # A redirect of a POST is a misconfigured base URL; following it could
            # also carry the Authorization header somewhere unexpected.
            follow_redirects=False,
        )

    def __repr__(self) -> str:
        return f"LlmClient({self.endpoint.name!r}, {self.endpoint.model!r})"

    async def __aenter__(self) -> LlmClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._client.aclose()

    def backoff(self, attempt: int) -> float:
        """Full jitter: uniform in [0, min(max, initial * 2**attempt)]."""
        return full_jitter(attempt, self.backoff_initial, self.backoff_max, self._rng)

    async def complete(
        self,
        messages: Sequence[Message],
        *,
        budget: RequestBudget | None = None,
        samples: int | None = None,
    ) -> list[str]:
        """`samples` (default: the endpoint's) answer texts for one conversation.

        Uses `n` when the server honours it, else repeats the request. Raises
        LlmUnavailable, LlmBadResponse, LlmConfigError or BudgetExhausted (with
        the answers already collected in `partial`).
        """
        want = samples if samples is not None else self.endpoint.samples
        key = self._api_key()
        out: list[str] = []
        while len(out) < want:
            n = want - len(out) if self.n_supported is not False else 1
            try:
                texts = await self._post(messages, n, key, budget)
            except BudgetExhausted as exc:
                raise BudgetExhausted(str(exc), partial=out) from None
            except LlmBadResponse as exc:
                # Some servers reject `n` outright; retry once without it.
                if exc.status == 400 and n > 1 and self.n_supported is None:
                    log.info("endpoint %s rejected n=%d; repeating requests", self.endpoint.name, n)
                    self.n_supported = False
                    continue
                raise
            if n > 1:
                self.n_supported = len(texts) >= n
            out.extend(texts[: want - len(out)])
        return out

    def _api_key(self) -> str | None:
        var = self.endpoint.api_key_env
        if var is None:
            return None
        # Read per call so a rotated key is picked up without a restart.
        key = os.environ.get(var, "").strip()
        if not key:
            raise LlmConfigError(
                f"endpoint {self.endpoint.name}: environment variable {var} is unset or empty"
            )
        return key

    def _payload(self, messages: Sequence[Message], n: int) -> dict[str, Any]:
        body: dict[str, Any] = {
            "model": self.endpoint.model,
            "messages": [dict(m) for m in messages],
            "temperature": self.endpoint.temperature,
        }
        if self.n_supported is not False:
            body["n"] = n
        return body

    async def _post(
        self,
        messages: Sequence[Message],
        n: int,
        key: str | None,
        budget: RequestBudget | None,
    ) -> list[str]:
        url = self.endpoint.completions_url
        name = self.endpoint.name
        payload = json.dumps(self._payload(messages, n)).encode()
        headers = {"Content-Type": "application/json"}
        if key is not None:
            headers["Authorization"] = f"Bearer {key}"
        last: LlmUnavailable | None = None
        for attempt in range(self.max_attempts):
            # A server that said "retry after" applies to all our requests to it.
            wait = self._not_before - self._clock()
            if wait > 0:
                await self._sleep(wait)
            if budget is not None:
                budget.take()
            await self.bucket.acquire()
            try:
                status, resp_headers, body = await self._once(url, payload, headers, key)
            except httpx.TransportError as exc:
                last = LlmUnavailable(f"{name}: {url}: {type(exc).__name__}")
                delay = self.backoff(attempt)
            else:
                if 200 <= status < 300:
                    return self._parse(body, key)
                if status not in RETRY_STATUSES:
                    detail = _redact(body[:200].decode("utf-8", "replace"), key)
                    raise LlmBadResponse(f"{name}: {url}: HTTP {status}: {detail}", status=status)
                retry_after = None
                if status in (429, 503):
                    retry_after = parse_retry_after(resp_headers.get("retry-after"))
                last = LlmUnavailable(
                    f"{name}: {url}: HTTP {status}", retry_after=retry_after, status=status
                )
                if retry_after is not None:
                    if retry_after > self.max_retry_after:
                        raise last
                    self._not_before = max(self._not_before, self._clock() + retry_after)
                    delay = 0.0  # slept at the top of the loop
                else:
                    delay = self.backoff(attempt)
            log.warning("endpoint %s attempt %d failed: %s", name, attempt + 1, last)
            if attempt + 1 < self.max_attempts and delay > 0:
                await self._sleep(delay)
        assert last is not None
        raise last

    async def _once(
        self, url: str, payload: bytes, headers: dict[str, str], key: str | None
    ) -> tuple[int, httpx.Headers, bytes]:
        cap = self.max_response_bytes
        try:
            async with self._client.stream("POST", url, content=payload, headers=headers) as resp:
                declared = resp.headers.get("content-length", "")
                if declared.isdigit() and int(declared) > cap:
                    raise LlmBadResponse(f"{url}: {declared} bytes is over the {cap}-byte cap")
                chunks: list[bytes] = []
                total = 0
                # Counted after decompression, so a gzip bomb stops at the cap too.
                async for chunk in resp.aiter_bytes():
                    total += len(chunk)
                    if total > cap:
                        raise LlmBadResponse(f"{url}: response over the {cap}-byte cap")
                    chunks.append(chunk)
                return resp.status_code, resp.headers, b"".join(chunks)
        except httpx.DecodingError as exc:
            raise LlmBadResponse(f"{url}: undecodable body: {_redact(str(exc), key)}") from None
        except (httpx.InvalidURL, httpx.UnsupportedProtocol) as exc:
            raise LlmBadResponse(f"{url}: {_redact(str(exc), key)}") from None

    def _parse(self, body: bytes, key: str | None) -> list[str]:
        where = f"{self.endpoint.name}: {self.endpoint.completions_url}"
        try:
            data = json.loads(body)
        except (ValueError, UnicodeDecodeError):
            raise LlmBadResponse(f"{where}: body is not JSON") from None
        if not isinstance(data, dict):
            raise LlmBadResponse(f"{where}: body is not a JSON object")
        choices = data.get("choices")
        if not isinstance(choices, list) or not choices:
            error = data.get("error")
            detail = f": error {_redact(str(error)[:200], key)}" if error else ""
            raise LlmBadResponse(f"{where}: no choices{detail}")
        if all(isinstance(c, dict) and isinstance(c.get("index"), int) for c in choices):
            choices = sorted(choices, key=lambda c: c["index"])
        return [_choice_text(c, where) for c in choices]


def _choice_text(choice: object, where: str) -> str:
    if not isinstance(choice, dict):
        raise LlmBadResponse(f"{where}: a choice is not an object")
    message = choice.get("message")
    if not isinstance(message, dict):
        raise LlmBadResponse(f"{where}: a choice has no message")
    content = message.get("content")
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        # Content-parts form: keep the text parts, in order.
        parts = [p for p in content if isinstance(p, dict) and p.get("type") == "text"]
        return "".join(str(p.get("text", "")) for p in parts)
    refusal = message.get("refusal")
    if content is None and isinstance(refusal, str):
        return refusal  # a refusal is an answer without domains, not an error
    if content is None:
        return ""
    raise LlmBadResponse(f"{where}: message content is {type(content).__name__}, not text")


def _redact(text: str, key: str | None) -> str:
    """Servers sometimes echo credentials in error bodies; never let the key reach a message."""
    if key:
        text = text.replace(key, "***")
    return text

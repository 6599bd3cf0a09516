"""The one HTTP client of the CT layer: retries with jitter, Retry-After, size cap, concurrency."""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from types import TracebackType

import httpx

from service import __version__
from service.retry import full_jitter, parse_retry_after
from service.sources.ct.errors import BadResponse, LogUnavailable

DEFAULT_CONTACT_URL = "https://phantomwatch.dev/ct"
RETRY_STATUSES = frozenset({408, 425, 429, 500, 502, 503, 504})


@dataclass(frozen=True)
class HttpConfig:
    """Client settings; the defaults suit the public logs."""

    contact_url: str = DEFAULT_CONTACT_URL
    user_agent: str | None = None  # overrides the PhantomWatch/<version> (+contact) default
    connect_timeout: float = 10.0
    read_timeout: float = 30.0
    # A 1,024-entry get-entries page is ~5 MB and a data tile ~1 MB; anything
    # far larger is a broken or hostile server.
    max_response_bytes: int = 32 * 1024 * 1024
    max_attempts: int = 6
    backoff_initial: float = 0.1
    backoff_max: float = 30.0
    # Longer waits are not slept through: LogUnavailable(retry_after) hands the
    # decision back to the scheduler.
    max_retry_after: float = 300.0
    per_log_concurrency: int = 4
    global_concurrency: int = 32

    @property
    def agent(self) -> str:
        return self.user_agent or f"PhantomWatch/{__version__} (+{self.contact_url})"


class CTHttpClient:
    """GETs for CT logs over one httpx.AsyncClient, shared by every log reader.

    Pass `transport` (any httpx.AsyncBaseTransport, e.g. httpx.MockTransport)
    to test without a network. `log` names the per-log concurrency slot: at
    most `per_log_concurrency` requests per log and `global_concurrency` in all.
    """

    def __init__(
        self,
        config: HttpConfig | None = None,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        rng: Callable[[], float] = random.random,
    ) -> None:
        self.config = config or HttpConfig()
        self._sleep = sleep
        self._rng = rng
        self._client = httpx.AsyncClient(
            transport=transport,
            timeout=httpx.Timeout(self.config.read_timeout, connect=self.config.connect_timeout),
            headers={"User-Agent": self.config.agent, "Accept-Encoding": "gzip, identity"},
            follow_redirects=True,
            limits=httpx.Limits(max_connections=self.config.global_concurrency),
        )
        self._global = asyncio.Semaphore(self.config.global_concurrency)
        self._per_log: dict[str, asyncio.Semaphore] = {}
        self._not_before: dict[str, float] = {}

    async def __aenter__(self) -> CTHttpClient:
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
        return full_jitter(attempt, self.config.backoff_initial, self.config.backoff_max, self._rng)

    async def get(
        self, url: str, *, log: str = "", params: Mapping[str, str | int] | None = None
    ) -> bytes:
        """The body of a 2xx answer; LogUnavailable after retries, BadResponse otherwise."""
        slot = self._per_log.setdefault(log, asyncio.Semaphore(self.config.per_log_concurrency))
        last: LogUnavailable | None = None
        for attempt in range(self.config.max_attempts):
            # A log that said "retry after" applies to all our requests to it.
            wait = self._not_before.get(log, 0.0) - time.monotonic()
            if wait > 0:
                await self._sleep(wait)
            try:
                async with slot, self._global:
                    status, headers, body = await self._once(url, params)
            except httpx.TransportError as exc:
                last = LogUnavailable(f"{url}: {type(exc).__name__}: {exc}")
                delay = self.backoff(attempt)
            else:
                if 200 <= status < 300:
                    return body
                if status not in RETRY_STATUSES:
                    raise BadResponse(f"{url}: HTTP {status}", status=status)
                retry_after = None
                if status in (429, 503):
                    retry_after = parse_retry_after(headers.get("retry-after"))
                last = LogUnavailable(
                    f"{url}: HTTP {status}", retry_after=retry_after, status=status
                )
                if retry_after is not None:
                    if retry_after > self.config.max_retry_after:
                        raise last
                    until = time.monotonic() + retry_after
                    self._not_before[log] = max(self._not_before.get(log, 0.0), until)
                    delay = 0.0  # the wait happens at the top of the loop, for every request
                else:
                    delay = self.backoff(attempt)
            if attempt + 1 < self.config.max_attempts and delay > 0:
                await self._sleep(delay)
        assert last is not None
        raise last

    async def _once(
        self, url: str, params: Mapping[str, str | int] | None
    ) -> tuple[int, httpx.Headers, bytes]:
        cap = self.config.max_response_bytes
        try:
            async with self._client.stream("GET", url, params=params) as resp:
                if not 200 <= resp.status_code < 300:
                    return resp.status_code, resp.headers, b""
                declared = resp.headers.get("content-length", "")
                if declared.isdigit() and int(declared) > cap:
                    raise BadResponse(f"{url}: {declared} bytes is over the {cap}-byte cap")
                chunks: list[bytes] = []
                total = 0
                # Counted after decompression, so a gzip bomb stops at the cap too.
                async for chunk in resp.aiter_bytes():
                    total += len(chunk)
                    if total > cap:
                        raise BadResponse(f"{url}: response over the {cap}-byte cap")
                    chunks.append(chunk)
                return resp.status_code, resp.headers, b"".join(chunks)
        except httpx.DecodingError as exc:
            raise BadResponse(f"{url}: undecodable body: {exc}") from None
        except (httpx.TooManyRedirects, httpx.InvalidURL, httpx.UnsupportedProtocol) as exc:
            raise BadResponse(f"{url}: {exc}") from None

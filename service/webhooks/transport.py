"""Senders of rendered webhooks (HTTP, syslog) behind one SSRF policy and exception tree."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import ipaddress
import logging
import socket
import ssl
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from types import TracebackType
from urllib.parse import urlsplit

import httpx

from service.retry import parse_retry_after
from service.webhooks.formats import USER_AGENT, HttpRequestSpec, octet_count

log = logging.getLogger(__name__)

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
# (host, port) -> addresses; injectable so tests can make any name resolve anywhere.
Resolver = Callable[[str, int], Awaitable[Sequence[str]]]

RETRYABLE_STATUSES = frozenset({408, 425, 429})
EXCERPT_CHARS = 512
SYSLOG_PORTS = {"udp": 514, "tcp": 514, "tls": 6514}
# Largest UDP payload over IPv4; bigger frames cannot be sent as one datagram.
MAX_UDP_FRAME = 65_507
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")


# --- Exceptions --------------------------------------------------------------------------


@dataclass(frozen=True)
class AttemptResult:
    """What one send did, for the attempt log: also carried by every DeliveryError."""

    status_code: int | None
    latency_ms: float
    response_excerpt: str
    ok: bool
    retryable: bool = False
    retry_after: float | None = None
    error: str | None = None
    truncated: bool = False
    address: str | None = None  # the IP actually connected to


class DeliveryError(Exception):
    """Base of every send failure; `retryable` says whether trying later can help."""

    retryable = False

    def __init__(self, message: str, *, result: AttemptResult | None = None) -> None:
        super().__init__(message)
        self.result = result
        self.status: int | None = result.status_code if result else None
        self.retry_after: float | None = result.retry_after if result else None


class TargetRefused(DeliveryError):
    """Not sent, by policy: bad scheme or URL, or the host is (or resolves to) a forbidden address.

    Never retryable: the subscription needs fixing (or the policy widening).
    """


class DeliveryFailed(DeliveryError):
    """Sent or tried, and the receiver did not accept it.

    `status` is the HTTP status (None for network errors and timeouts),
    `retryable` is True for 408/425/429/5xx, timeouts and connection errors,
    `retry_after` the seconds the receiver asked for (Retry-After), if any.
    """

    def __init__(
        self,
        message: str,
        *,
        status: int | None,
        retryable: bool,
        retry_after: float | None = None,
        result: AttemptResult | None = None,
    ) -> None:
        super().__init__(message, result=result)
        self.status = status
        self.retryable = retryable
        self.retry_after = retry_after


# --- Address policy ----------------------------------------------------------------------


async def system_resolver(host: str, port: int) -> list[str]:
    """Every address the OS resolver gives for `host`, in its preference order."""
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    seen: list[str] = []
    for info in infos:
        address = str(info[4][0]).split("%", 1)[0]  # drop an IPv6 zone id
        if address not in seen:
            seen.append(address)
    return seen


def embedded_ipv4(ip: IPAddress) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address tunnels to (mapped, 6to4, NAT64), if any."""
    if isinstance(ip, ipaddress.IPv4Address):
        return None
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip.sixtofour is not None:
        return ip.sixtofour
    if ip in _NAT64:
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return None


def is_public(ip: IPAddress) -> bool:
    """Globally routable unicast: not loopback, private, link-local, CGNAT, multicast, reserved."""
    inner = embedded_ipv4(ip)
    if inner is not None and not is_public(inner):
        return False
    return ip.is_global and not ip.is_multicast


class AddressPolicy:
    """Which addresses a subscription may make us connect to.

    `allow_private=False` (production): public unicast only. `True`: anything
    (development). A list of CIDRs: public plus those networks (an on-prem SIEM).
    """

    def __init__(
        self,
        allow_private: bool | Iterable[str | IPNetwork] = False,
        resolver: Resolver | None = None,
    ) -> None:
        self.allow_all = allow_private is True
        self.networks: list[IPNetwork] = []
        if not isinstance(allow_private, bool):
            self.networks = [ipaddress.ip_network(n, strict=False) for n in allow_private]
        self._resolver = resolver or system_resolver

    def allows(self, ip: IPAddress) -> bool:
        if self.allow_all or any(ip in net for net in self.networks):
            return True
        inner = embedded_ipv4(ip)
        if inner is not None and any(inner in net for net in self.networks):
            return True
        return is_public(ip)

    async def addresses(self, host: str, port: int) -> list[IPAddress]:
        """The addresses to connect to, all checked; TargetRefused if any one is forbidden.

        One forbidden address refuses the whole name: a rebinding attacker
        controls the order of records, so "skip the bad ones" is no defence.
        """
        try:
            literal: IPAddress | None = ipaddress.ip_address(host.strip("[]"))
        except ValueError:
            literal = None
        if literal is not None:
            found = [literal]
        else:
            try:
                found = [ipaddress.ip_address(a) for a in await self._resolver(host, port)]
            except (OSError, UnicodeError, ValueError) as exc:
                result = _failure(None, 0.0, f"cannot resolve {host}: {exc}", retryable=True)
                raise DeliveryFailed(
                    result.error or "", status=None, retryable=True, result=result
                ) from None
            if not found:
                result = _failure(None, 0.0, f"{host} has no address", retryable=True)
                raise DeliveryFailed(result.error or "", status=None, retryable=True, result=result)
        for ip in found:
            if not self.allows(ip):
                what = "is" if literal is not None else "resolves to"
                raise TargetRefused(
                    f"{host} {what} {ip}, a non-public address (loopback, private, link-local, "
                    "multicast or reserved); allow it explicitly to deliver there",
                    result=_failure(None, 0.0, "refused by address policy", retryable=False),
                )
        return found


def _failure(
    status: int | None,
    latency_ms: float,
    error: str,
    *,
    retryable: bool,
    retry_after: float | None = None,
    excerpt: str = "",
    address: str | None = None,
    truncated: bool = False,
) -> AttemptResult:
    return AttemptResult(
        status_code=status,
        latency_ms=latency_ms,
        response_excerpt=excerpt,
        ok=False,
        retryable=retryable,
        retry_after=retry_after,
        error=error,
        truncated=truncated,
        address=address,
    )


# Exchanges get threads of their own: sharing the default pool with DNS lookups and
# database calls would count time spent queueing for a thread against a receiver's timeout.
_HTTP_THREADS = ThreadPoolExecutor(max_workers=32, thread_name_prefix="webhook-http")


def redact_url(url: str | httpx.URL) -> str:
    """scheme://host:port/… for logs: no credentials, query or path (Slack, Discord and Teams
    put the secret in the path), only a short hash telling paths apart."""
    parsed = httpx.URL(str(url))
    port = f":{parsed.port}" if parsed.port else ""
    host = parsed.raw_host.decode("ascii", "replace")
    if ":" in host:
        host = f"[{host}]"
    path = parsed.path
    if path in ("", "/"):
        return f"{parsed.scheme}://{host}{port}{path}"
    digest = hashlib.sha256(path.encode()).hexdigest()[:8]
    return f"{parsed.scheme}://{host}{port}/…#{digest}"


def _elapsed_ms(start: float) -> float:
    return round((time.perf_counter() - start) * 1000, 1)


# --- HTTP --------------------------------------------------------------------------------


class HttpSender:
    """POSTs rendered webhooks, one attempt per call (retrying is the worker's job).

    Safety: only http/https; the host is resolved here, every address is
    checked against the policy, and the request goes to the checked IP itself
    (Host header and TLS SNI/certificate check keep the name), so a DNS answer
    that changes between check and connect (rebinding) cannot redirect it.
    Redirects are never followed, the whole attempt has one deadline, and at
    most `max_response_bytes` of the answer are read. Nothing logged here
    contains header values, URL queries or credentials.

    Pass `transport` (httpx.MockTransport...) to test without sockets and
    `resolver` to control name resolution.
    """

    def __init__(
        self,
        allow_private: bool | Iterable[str | IPNetwork] = False,
        timeout: float = 10.0,
        max_response_bytes: int = 64 * 1024,
        transport: httpx.BaseTransport | None = None,
        *,
        resolver: Resolver | None = None,
        verify: ssl.SSLContext | bool = True,
        keepalive: int = 0,
    ) -> None:
        self.policy = AddressPolicy(allow_private, resolver)
        self.timeout = timeout
        self.max_response_bytes = max_response_bytes
        # A blocking client run in a worker thread: httpx's async stack costs several
        # times more CPU per request, and one sender serves a subscription in order.
        self._client = httpx.Client(
            transport=transport,
            verify=verify,
            timeout=httpx.Timeout(timeout),
            follow_redirects=False,
            # Proxies from the environment would resolve the name themselves, unchecked.
            trust_env=False,
            # The pool is keyed by IP: a kept-alive TLS connection verified for one
            # name must not carry another subscriber's requests to the same IP. Keep
            # connections alive (`keepalive` > 0) only in a sender used for one host.
            limits=httpx.Limits(max_keepalive_connections=keepalive),
            headers={"user-agent": USER_AGENT, "accept-encoding": "identity"},
        )

    async def __aenter__(self) -> HttpSender:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        self._client.close()

    async def send(self, url: str, spec: HttpRequestSpec) -> AttemptResult:
        """One POST; an ok AttemptResult on 2xx, else TargetRefused or DeliveryFailed."""
        target = self._check_url(url)
        shown = redact_url(target)
        host = target.raw_host.decode("ascii")
        port = target.port or (443 if target.scheme == "https" else 80)
        start = time.perf_counter()
        ip: IPAddress | None = None
        try:
            # One deadline for resolving, connecting, sending and reading.
            async with asyncio.timeout(self.timeout):
                ip = (await self.policy.addresses(host, port))[0]
                (
                    status,
                    resp_headers,
                    raw,
                    truncated,
                ) = await asyncio.get_running_loop().run_in_executor(
                    _HTTP_THREADS, self._exchange, spec, target, host, ip
                )
        except TimeoutError:
            where = str(ip) if ip else None
            result = _failure(None, _elapsed_ms(start), "timed out", retryable=True, address=where)
            log.info("webhook to %s timed out after %.0f ms", shown, result.latency_ms)
            raise DeliveryFailed(
                f"{shown}: timed out after {self.timeout}s",
                status=None,
                retryable=True,
                result=result,
            ) from None
        except httpx.TransportError as exc:
            # TLS verification failures are configuration, not weather: do not retry them.
            retryable = not _is_cert_error(exc)
            error = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
            result = _failure(None, _elapsed_ms(start), error, retryable=retryable, address=str(ip))
            log.info("webhook to %s failed: %s", shown, error)
            raise DeliveryFailed(
                f"{shown}: {error}", status=None, retryable=retryable, result=result
            ) from None
        latency = _elapsed_ms(start)
        excerpt = raw.decode("utf-8", "replace")[:EXCERPT_CHARS]
        if 200 <= status < 300:
            log.debug("webhook to %s: HTTP %d in %.0f ms", shown, status, latency)
            return AttemptResult(
                status_code=status,
                latency_ms=latency,
                response_excerpt=excerpt,
                ok=True,
                truncated=truncated,
                address=str(ip),
            )
        retry_after = parse_retry_after(resp_headers.get("retry-after"))
        if 300 <= status < 400:
            error = "redirects are not followed: point the subscription at the final URL"
            retryable = False
        else:
            error = f"HTTP {status}"
            retryable = status in RETRYABLE_STATUSES or status >= 500
        result = _failure(
            status,
            latency,
            error,
            retryable=retryable,
            retry_after=retry_after,
            excerpt=excerpt,
            address=str(ip),
            truncated=truncated,
        )
        log.info("webhook to %s: %s in %.0f ms", shown, error, latency)
        raise DeliveryFailed(
            f"{shown}: {error}",
            status=status,
            retryable=retryable,
            retry_after=retry_after,
            result=result,
        )

    def _check_url(self, url: str) -> httpx.URL:
        try:
            target = httpx.URL(url)
        except (httpx.InvalidURL, UnicodeError, ValueError) as exc:
            raise TargetRefused(f"invalid URL: {exc}") from None
        if target.scheme not in ("http", "https"):
            raise TargetRefused(f"scheme {target.scheme or '(none)'!r}: only http and https")
        if not target.raw_host:
            raise TargetRefused("URL without a host")
        return target

    def _exchange(
        self, spec: HttpRequestSpec, target: httpx.URL, host: str, ip: IPAddress
    ) -> tuple[int, httpx.Headers, bytes, bool]:
        headers = dict(spec.headers)
        bracketed = f"[{host}]" if ":" in host else host
        headers["host"] = bracketed + (f":{target.port}" if target.port else "")
        extensions: dict[str, str] = {}
        if target.scheme == "https" and not _is_ip_literal(host):
            extensions["sni_hostname"] = host
        request = self._client.build_request(
            spec.method,
            target.copy_with(host=str(ip)),
            content=spec.body,
            headers=headers,
            extensions=extensions,
        )
        cap = self.max_response_bytes
        response = self._client.send(request, stream=True)
        try:
            if response.is_stream_consumed:  # an in-memory answer (httpx.MockTransport)
                body = response.content
                return response.status_code, response.headers, body[:cap], len(body) > cap
            chunks: list[bytes] = []
            total = 0
            # Raw bytes: a compressed answer is not inflated (no bombs), the excerpt is a hint.
            for chunk in response.iter_raw():
                chunks.append(chunk)
                total += len(chunk)
                if total > cap:
                    # Only the attempt log reads it: stop here and drop the connection.
                    break
            return response.status_code, response.headers, b"".join(chunks)[:cap], total > cap
        finally:
            response.close()


def _is_ip_literal(host: str) -> bool:
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return True


def _is_cert_error(exc: BaseException) -> bool:
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, ssl.SSLCertVerificationError):
            return True
        seen = seen.__cause__ or seen.__context__
    return "CERTIFICATE_VERIFY_FAILED" in str(exc)


# --- Syslog ------------------------------------------------------------------------------


@dataclass(frozen=True)
class SyslogTarget:
    """A parsed `udp://`, `tcp://` or `tls://host:port` target."""

    scheme: str
    host: str
    port: int

    @classmethod
    def parse(cls, target: str) -> SyslogTarget:
        parts = urlsplit(target.strip())
        if parts.scheme not in SYSLOG_PORTS:
            raise TargetRefused(f"scheme {parts.scheme or '(none)'!r}: only udp, tcp and tls")
        try:
            port = parts.port or SYSLOG_PORTS[parts.scheme]
        except ValueError:
            raise TargetRefused(f"invalid port in {target!r}") from None
        if not parts.hostname:
            raise TargetRefused(f"no host in {target!r}")
        return cls(parts.scheme, parts.hostname, port)


class SyslogSender:
    """Sends RFC 5424 frames over UDP, TCP or TLS (RFC 6587 octet counting on streams).

    Same address policy as HttpSender, with the connection made to the checked
    IP. TLS verifies the server against `ca_file` (or the system store) and the
    target's host name unless `verify=False`. One connection per call: syslog
    has no acknowledgements, so a fresh connection at least proves the
    collector was listening when the bytes left.
    """

    def __init__(
        self,
        allow_private: bool | Iterable[str | IPNetwork] = False,
        timeout: float = 10.0,
        *,
        ca_file: str | None = None,
        verify: bool = True,
        resolver: Resolver | None = None,
    ) -> None:
        self.policy = AddressPolicy(allow_private, resolver)
        self.timeout = timeout
        self._ssl = ssl.create_default_context(cafile=ca_file)
        if not verify:
            self._ssl.check_hostname = False
            self._ssl.verify_mode = ssl.CERT_NONE

    async def send(self, target: str, frame: bytes) -> AttemptResult:
        """Send one frame (from `frame_syslog`); AttemptResult, TargetRefused or DeliveryFailed."""
        return await self.send_many(target, [frame])

    async def send_many(self, target: str, frames: Sequence[bytes]) -> AttemptResult:
        """Several frames over one connection (TCP/TLS) or as one datagram each (UDP)."""
        parsed = SyslogTarget.parse(target)
        if parsed.scheme == "udp":
            too_big = [len(f) for f in frames if len(f) > MAX_UDP_FRAME]
            if too_big:
                raise DeliveryFailed(
                    f"a {too_big[0]}-byte frame does not fit a UDP datagram; use tcp:// or tls://",
                    status=None,
                    retryable=False,
                    result=_failure(None, 0.0, "frame too large for UDP", retryable=False),
                )
        start = time.perf_counter()
        ip: IPAddress | None = None
        try:
            async with asyncio.timeout(self.timeout):
                ip = (await self.policy.addresses(parsed.host, parsed.port))[0]
                if parsed.scheme == "udp":
                    await self._udp(ip, parsed.port, frames)
                else:
                    await self._stream(parsed, ip, frames)
        except TimeoutError:
            error = "timed out"
            retryable = True
        except ssl.SSLCertVerificationError as exc:
            error = f"TLS certificate: {exc.verify_message or exc}"
            retryable = False
        except (OSError, ssl.SSLError, EOFError) as exc:
            error = f"{type(exc).__name__}: {exc}"
            retryable = True
        else:
            return AttemptResult(
                status_code=None,
                latency_ms=_elapsed_ms(start),
                response_excerpt="",
                ok=True,
                address=str(ip),
            )
        shown = f"{parsed.scheme}://{parsed.host}:{parsed.port}"
        result = _failure(
            None,
            _elapsed_ms(start),
            error,
            retryable=retryable,
            address=str(ip) if ip else None,
        )
        log.info("syslog to %s failed: %s", shown, error)
        raise DeliveryFailed(f"{shown}: {error}", status=None, retryable=retryable, result=result)

    async def _udp(self, ip: IPAddress, port: int, frames: Sequence[bytes]) -> None:
        loop = asyncio.get_running_loop()
        transport, _ = await loop.create_datagram_endpoint(
            asyncio.DatagramProtocol, remote_addr=(str(ip), port)
        )
        try:
            for frame in frames:
                transport.sendto(frame)
        finally:
            transport.close()

    async def _stream(self, target: SyslogTarget, ip: IPAddress, frames: Sequence[bytes]) -> None:
        tls = target.scheme == "tls"
        _, writer = await asyncio.open_connection(
            str(ip),
            target.port,
            ssl=self._ssl if tls else None,
            # Certificate checked against the name the subscriber gave, not the pinned IP.
            server_hostname=target.host if tls else None,
        )
        try:
            writer.write(b"".join(octet_count(f) for f in frames))
            await writer.drain()
        finally:
            writer.close()
            # The bytes are out; a slow or rude close must not turn success into a retry.
            with contextlib.suppress(OSError, ssl.SSLError, TimeoutError):
                async with asyncio.timeout(min(1.0, self.timeout)):
                    await writer.wait_closed()

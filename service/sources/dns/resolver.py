"""DNS lookups with four honest outcomes, shared concurrency and rate limits, retries on unknown."""

from __future__ import annotations

import asyncio
import ipaddress
import random
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

import dns.asyncquery
import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import dns.resolver
import dns.rrset

from service.retry import full_jitter
from service.sources.dns.errors import DnsError

if TYPE_CHECKING:
    from service.config import Settings

State = Literal["resolves", "nxdomain", "nodata", "unknown"]
STATES: tuple[State, ...] = ("resolves", "nxdomain", "nodata", "unknown")

# (query, nameserver address, port, timeout) -> response. The one network seam.
QueryFn = Callable[[dns.message.Message, str, int, float], Awaitable[dns.message.Message]]

# Big enough for large TXT/NS sets, small enough to avoid IP fragmentation (DNS flag day 2020).
EDNS_PAYLOAD = 1232
MAX_CNAME_CHAIN = 16


@dataclass(frozen=True)
class Answer:
    """The outcome of one lookup.

    `state` is about the records of the type at the end of the CNAMEs in the
    answer (`cname_chain`): "resolves" with `records` (sorted strings; TXT is the
    decoded concatenation of its strings), "nodata" (no records of that type: the
    name, or the last name of its chain, exists without them), "nxdomain" (the
    queried name itself does not exist), or "unknown" (SERVFAIL, REFUSED, timeout,
    network error, a referral we cannot follow; `detail` says which). "unknown"
    is neither registered nor free. A name whose alias points at a name that does
    not exist (a dangling CNAME) is "nodata" with its `cname_chain` and a
    `detail`: the name exists, it owns the CNAME.
    `referral` marks NS records taken from a parent zone's delegation (an
    authoritative-only server answering for a child it does not serve).
    """

    name: str
    rdtype: str
    state: State
    records: tuple[str, ...] = ()
    detail: str = ""
    cname_chain: tuple[str, ...] = ()
    ttl: int | None = None
    referral: bool = False

    @property
    def known(self) -> bool:
        return self.state != "unknown"


def parse_nameserver(text: str, default_port: int = 53) -> tuple[str, int]:
    """'IP', 'IP:PORT', '[IPv6]:PORT' -> (address, port); ValueError with a reason otherwise."""
    raw = text.strip()
    host, port = raw, default_port
    if raw.startswith("["):
        close = raw.find("]")
        if close < 0:
            raise ValueError(f"{text!r}: missing ']'")
        host, rest = raw[1:close], raw[close + 1 :]
        if rest:
            if not rest.startswith(":"):
                raise ValueError(f"{text!r}: expected ':PORT' after ']'")
            port = _port(rest[1:], text)
    elif raw.count(":") == 1:
        host, port_text = raw.split(":")
        port = _port(port_text, text)
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        raise ValueError(f"{text!r}: not an IP address") from None
    return str(address), port


def _port(text: str, whole: str) -> int:
    if not text.isdigit() or not 0 < int(text) < 65536:
        raise ValueError(f"{whole!r}: port must be 1-65535")
    return int(text)


@dataclass(frozen=True)
class ResolverConfig:
    """Where and how fast to ask.

    `nameservers` are 'IP', 'IP:PORT' or '[IPv6]:PORT'; `port` applies to those
    without one. `retries` is the number of extra attempts after an unknown
    outcome, each on the next nameserver, after a full-jitter backoff.
    `concurrency` bounds queries in flight and `rate_per_second` queries sent
    (every attempt counts), both shared by all calls of one client;
    `rate_per_second=None` removes the rate limit. `burst` is the token bucket's
    depth (default: 50 ms worth of the rate, at least 1).
    """

    nameservers: list[str]
    port: int = 53
    timeout: float = 2.0
    retries: int = 2
    concurrency: int = 64
    rate_per_second: float | None = 1000.0
    burst: float | None = None
    backoff_initial: float = 0.05
    backoff_max: float = 1.0
    servers: tuple[tuple[str, int], ...] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        if not self.nameservers:
            raise ValueError("at least one nameserver is required")
        if not 0 < self.port < 65536:
            raise ValueError("port must be 1-65535")
        if self.timeout <= 0 or self.retries < 0 or self.concurrency < 1:
            raise ValueError("timeout must be > 0, retries >= 0 and concurrency >= 1")
        if self.rate_per_second is not None and self.rate_per_second <= 0:
            raise ValueError("rate_per_second must be > 0 (None: no limit)")
        if self.burst is not None and self.burst < 1:
            raise ValueError("burst must be >= 1")
        servers = tuple(parse_nameserver(ns, self.port) for ns in self.nameservers)
        object.__setattr__(self, "servers", servers)

    @classmethod
    def from_system(cls, **overrides: object) -> ResolverConfig:
        """The nameservers of /etc/resolv.conf (or the OS equivalent)."""
        system = dns.resolver.Resolver(configure=True)
        return cls(nameservers=[str(ns) for ns in system.nameservers], **overrides)  # type: ignore[arg-type]

    @classmethod
    def from_settings(cls, settings: Settings) -> ResolverConfig:
        """The service's resolvers (`PHANTOMWATCH_DNS_*`); none set: the system's."""
        options = {
            "timeout": settings.dns_timeout,
            "retries": settings.dns_retries,
            "concurrency": settings.dns_concurrency,
            "rate_per_second": settings.dns_rate,
        }
        if settings.dns_nameservers:
            return cls(nameservers=list(settings.dns_nameservers), **options)  # type: ignore[arg-type]
        return cls.from_system(**options)

    @property
    def bucket_depth(self) -> float:
        if self.burst is not None:
            return self.burst
        return max(1.0, (self.rate_per_second or 0.0) / 20)


class RateLimiter:
    """A token bucket by reservation: a caller takes a token, and sleeps off any debt.

    There is no await between reading and updating the bucket, so concurrent
    callers on one event loop each get their own slot in time, in call order.
    """

    def __init__(
        self,
        rate: float | None,
        depth: float,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.rate = rate
        self.depth = depth
        self._clock = clock
        self._sleep = sleep
        self._tokens = depth
        self._stamp = clock()

    async def acquire(self) -> None:
        if self.rate is None:
            return
        now = self._clock()
        self._tokens = min(self.depth, self._tokens + (now - self._stamp) * self.rate)
        self._stamp = now
        self._tokens -= 1.0
        if self._tokens < 0:
            await self._sleep(-self._tokens / self.rate)


async def udp_then_tcp(
    query: dns.message.Message, address: str, port: int, timeout: float
) -> dns.message.Message:
    """The default network seam: UDP, TCP when the answer is truncated."""
    response, _ = await dns.asyncquery.udp_with_fallback(
        query, address, timeout=timeout, port=port, ignore_unexpected=True
    )
    return response


def _to_name(name: str) -> dns.name.Name:
    try:
        return dns.name.from_text(name.strip())
    except (dns.exception.DNSException, UnicodeError, ValueError) as exc:
        raise DnsError(f"invalid name {name!r}: {exc}") from None


def _rdtype(rdtype: str | dns.rdatatype.RdataType) -> dns.rdatatype.RdataType:
    try:
        return dns.rdatatype.RdataType.make(rdtype)
    except (dns.exception.DNSException, ValueError) as exc:
        raise DnsError(f"invalid record type {rdtype!r}: {exc}") from None


def _texts(rrset: dns.rrset.RRset) -> tuple[str, ...]:
    if rrset.rdtype == dns.rdatatype.TXT:
        # SPF and DMARC are read from the concatenated strings (RFC 7208 3.3).
        return tuple(sorted(b"".join(rd.strings).decode("utf-8", "replace") for rd in rrset))
    return tuple(sorted(rd.to_text().lower() for rd in rrset))


def _find(
    section: list[dns.rrset.RRset], name: dns.name.Name, rdtype: dns.rdatatype.RdataType
) -> dns.rrset.RRset | None:
    # Not Message.get_rrset: its index only covers messages parsed from the wire.
    for rrset in section:
        if rrset.name == name and rrset.rdtype == rdtype and rrset.rdclass == dns.rdataclass.IN:
            return rrset
    return None


def classify(
    name: dns.name.Name, rdtype: dns.rdatatype.RdataType, response: dns.message.Message
) -> Answer:
    """Read one response as an Answer (pure: no I/O)."""
    qname, qtype = name.to_text(), dns.rdatatype.to_text(rdtype)
    rcode = response.rcode()
    if rcode not in (dns.rcode.NOERROR, dns.rcode.NXDOMAIN):
        return Answer(qname, qtype, "unknown", detail=dns.rcode.to_text(rcode))
    chain: list[str] = []
    current = name
    found: dns.rrset.RRset | None = None
    for _ in range(MAX_CNAME_CHAIN):
        found = _find(response.answer, current, rdtype)
        if found is not None or rdtype == dns.rdatatype.CNAME:
            break
        alias = _find(response.answer, current, dns.rdatatype.CNAME)
        if alias is None:
            break
        current = alias[0].target
        chain.append(current.to_text())
    else:
        return Answer(qname, qtype, "unknown", detail="CNAME chain too long")
    if found is not None:
        return Answer(
            qname, qtype, "resolves", _texts(found), cname_chain=tuple(chain), ttl=found.ttl
        )
    if rcode == dns.rcode.NXDOMAIN:
        if not chain:
            return Answer(qname, qtype, "nxdomain")
        # The rcode is about the last target of the chain (RFC 6604 section 3); the queried
        # name owns a CNAME, so it exists: reading it as NXDOMAIN would call it free.
        detail = f"CNAME target {current} does not exist (NXDOMAIN)"
        return Answer(qname, qtype, "nodata", detail=detail, cname_chain=tuple(chain))
    delegation = next((r for r in response.authority if r.rdtype == dns.rdatatype.NS), None)
    has_soa = any(r.rdtype == dns.rdatatype.SOA for r in response.authority)
    if delegation is not None and not has_soa and not response.flags & dns.flags.AA:
        # A referral: the server is not authoritative for the name and cannot recurse.
        if rdtype == dns.rdatatype.NS and delegation.name == current:
            records = _texts(delegation)
            return Answer(
                qname,
                qtype,
                "resolves",
                records,
                cname_chain=tuple(chain),
                ttl=delegation.ttl,
                referral=True,
            )
        return Answer(qname, qtype, "unknown", detail=f"referral to {delegation.name}")
    return Answer(qname, qtype, "nodata", cname_chain=tuple(chain))


class DnsClient:
    """Asks the configured nameservers; one instance is shared by every lookup of a process.

    `query_fn` replaces the network (see `QueryFn`); `sleep`, `clock` and `rng`
    make backoff and rate limiting testable. Use it from one event loop.
    """

    def __init__(
        self,
        config: ResolverConfig,
        *,
        query_fn: QueryFn | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        clock: Callable[[], float] = time.monotonic,
        rng: Callable[[], float] = random.random,
    ) -> None:
        self.config = config
        self._query_fn = query_fn or udp_then_tcp
        self._sleep = sleep
        self._rng = rng
        self._semaphore = asyncio.Semaphore(config.concurrency)
        self._limiter = RateLimiter(
            config.rate_per_second, config.bucket_depth, clock=clock, sleep=sleep
        )
        self._next_server = 0
        self.in_flight = 0
        self.max_in_flight = 0
        self.sent = 0
        self.outcomes: Counter[str] = Counter()

    def backoff(self, attempt: int) -> float:
        """Full jitter: uniform in [0, min(max, initial * 2**attempt)]."""
        return full_jitter(attempt, self.config.backoff_initial, self.config.backoff_max, self._rng)

    async def query(self, name: str, rdtype: str) -> Answer:
        """Look `name` up; never raises for network trouble (state "unknown" instead).

        DnsError for a name or type that cannot be put in a query.
        """
        qname, qtype = _to_name(name), _rdtype(rdtype)
        servers = self.config.servers
        first = self._next_server
        self._next_server = (first + 1) % len(servers)
        attempts = self.config.retries + 1
        answer = Answer(qname.to_text(), rdtype, "unknown", detail="not asked")
        for attempt in range(attempts):
            address, port = servers[(first + attempt) % len(servers)]
            answer = await self._attempt(qname, qtype, address, port)
            if answer.known:
                break
            if attempt + 1 < attempts:
                await self._sleep(self.backoff(attempt))
        else:
            answer = Answer(
                answer.name,
                answer.rdtype,
                "unknown",
                detail=f"{answer.detail} (after {attempts} attempts)",
            )
        self.outcomes[answer.state] += 1
        return answer

    async def _attempt(
        self, qname: dns.name.Name, qtype: dns.rdatatype.RdataType, address: str, port: int
    ) -> Answer:
        query = dns.message.make_query(qname, qtype, use_edns=0, payload=EDNS_PAYLOAD)
        where = f"{address}#{port}"
        async with self._semaphore:
            # Inside the slot, so that queue time for a slot does not bunch sends up.
            await self._limiter.acquire()
            self.sent += 1
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
            try:
                response = await self._query_fn(query, address, port, self.config.timeout)
            except dns.exception.Timeout:
                return Answer(qname.to_text(), qtype.name, "unknown", detail=f"timeout ({where})")
            except (dns.exception.DNSException, OSError, EOFError, ValueError) as exc:
                detail = f"{type(exc).__name__}: {exc} ({where})"
                return Answer(qname.to_text(), qtype.name, "unknown", detail=detail)
            finally:
                self.in_flight -= 1
        answer = classify(qname, qtype, response)
        if answer.state == "unknown":
            return Answer(
                answer.name, answer.rdtype, "unknown", detail=f"{answer.detail} ({where})"
            )
        return answer

"""Is a registrable domain registered? Read from DNS alone: delegation or SOA, never a guess."""

from __future__ import annotations

from typing import Literal

from service.detection import normalize_domain
from service.detection.normalize import InvalidDomain
from service.sources.dns.errors import DnsError
from service.sources.dns.resolver import Answer, DnsClient

Registration = Literal["registered", "free", "unknown"]


def query_names(name: str) -> tuple[str, str]:
    """(host, registrable domain) to ask DNS about for a domain, URL or IDN; DnsError if none.

    Both are normalised ASCII without the final dot: `https://WWW.Pаypal.com/login`
    -> (`www.xn--pypal-4ve.com`, `xn--pypal-4ve.com`).
    """
    try:
        normalized = normalize_domain(name)
    except InvalidDomain as exc:
        raise DnsError(f"invalid domain {name!r}: {exc}") from None
    if normalized.wildcard:
        raise DnsError(f"{name!r} is a wildcard, not a domain name")
    if normalized.registrable is None:
        raise DnsError(f"{normalized.ascii!r} is a public suffix, not a registrable domain")
    return normalized.ascii, normalized.registrable


def registrable_of(name: str) -> str:
    """The registrable domain of `name` (`www.paypa1.co.uk` -> `paypa1.co.uk`); DnsError if none."""
    return query_names(name)[1]


def _exists(answer: Answer) -> bool:
    # Records of the type, or an alias: either way the parent zone holds the name. Snapshots
    # stored before dangling aliases were read as nodata say nxdomain with a chain; the rcode
    # was about the alias's target, the name itself exists.
    return answer.state == "resolves" or (
        answer.state in ("nodata", "nxdomain") and bool(answer.cname_chain)
    )


async def registration_state(client: DnsClient, domain: str) -> Registration:
    """ "registered", "free" or "unknown" for the registrable domain of `domain`.

    Registered: NS records at the registrable domain (the parent zone delegates
    it: an answer from a resolver, or a referral from the parent's server), or an
    SOA there. Free: NXDOMAIN for the registrable domain itself. Unknown: any
    lookup that failed (SERVFAIL, REFUSED, timeout), a referral to another zone,
    and a name that exists without NS or SOA (an empty non-terminal or a
    registry-held record: not free, but not a delegation either). A name that
    owns a CNAME is registered, even when the alias's target does not exist.
    The suffix comes from the Public Suffix List, so `x.co.uk` is asked at
    `x.co.uk`, never at `co.uk`.
    """
    registrable = registrable_of(domain)
    ns = await client.query(registrable, "NS")
    if ns.state != "nodata" or _exists(ns):
        return decide(ns, None)
    return decide(ns, await client.query(registrable, "SOA"))


def decide(ns: Answer, soa: Answer | None) -> Registration:
    """The rule of `registration_state` on the NS and (when NS is NODATA) SOA answers."""
    if _exists(ns):
        return "registered"
    if ns.state == "nxdomain":
        return "free"
    if ns.state == "unknown" or soa is None:
        return "unknown"
    if _exists(soa):
        return "registered"
    if soa.state == "nxdomain":
        # The name vanished between the two lookups (a zone reload): report what we saw last.
        return "free"
    return "unknown"

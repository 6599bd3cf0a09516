"""DNS logic without a network: response classes, retries, backoff, rate limit, brand NS."""

from __future__ import annotations

from collections.abc import Sequence

import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.rcode
import dns.rdatatype
import dns.rrset
import pytest

from service.sources.dns.enrich import Enrichment, ownership_changes
from service.sources.dns.errors import DnsError
from service.sources.dns.registration import decide
from service.sources.dns.resolver import (
    Answer,
    DnsClient,
    RateLimiter,
    ResolverConfig,
    classify,
    parse_nameserver,
)
from tests.dns.conftest import run

NAME = dns.name.from_text("x.example.")


def _reply(
    rcode: dns.rcode.Rcode = dns.rcode.NOERROR,
    answer: tuple[str, ...] = (),
    authority: tuple[str, ...] = (),
    aa: bool = True,
    rdtype: str = "A",
) -> dns.message.Message:
    reply = dns.message.make_response(dns.message.make_query(NAME, rdtype))
    reply.set_rcode(rcode)
    if not aa:
        reply.flags &= ~dns.flags.AA
    else:
        reply.flags |= dns.flags.AA
    reply.answer.extend(_rrset(line) for line in answer)
    reply.authority.extend(_rrset(line) for line in authority)
    return reply


def _rrset(line: str) -> dns.rrset.RRset:
    """'owner ttl TYPE rdata' (class IN)."""
    owner, ttl, rdtype, rdata = line.split(maxsplit=3)
    return dns.rrset.from_text(owner, int(ttl), "IN", rdtype, rdata)


A = dns.rdatatype.A
SOA = "example. 300 SOA ns.example. h.example. 1 2 3 4 5"


def test_classify_states() -> None:
    assert classify(NAME, A, _reply(answer=("x.example. 60 A 192.0.2.1",))).records == (
        "192.0.2.1",
    )
    assert classify(NAME, A, _reply(dns.rcode.NXDOMAIN, authority=(SOA,))).state == "nxdomain"
    assert classify(NAME, A, _reply(authority=(SOA,))).state == "nodata"
    # A resolver that omits the SOA in a NODATA answer is still NODATA.
    assert classify(NAME, A, _reply(aa=False)).state == "nodata"
    for rcode in (dns.rcode.SERVFAIL, dns.rcode.REFUSED, dns.rcode.FORMERR, dns.rcode.NOTIMP):
        answer = classify(NAME, A, _reply(rcode))
        assert (answer.state, answer.detail) == ("unknown", dns.rcode.to_text(rcode))


def test_classify_cname_chains() -> None:
    chain = ("x.example. 60 CNAME y.example.", "y.example. 60 CNAME z.example.")
    resolved = classify(NAME, A, _reply(answer=(*chain, "z.example. 60 A 192.0.2.9")))
    assert (resolved.state, resolved.records) == ("resolves", ("192.0.2.9",))
    assert resolved.cname_chain == ("y.example.", "z.example.")
    # NXDOMAIN after a CNAME is about the last target (RFC 6604): the name itself exists.
    dangling = classify(NAME, A, _reply(dns.rcode.NXDOMAIN, answer=chain, authority=(SOA,)))
    assert (dangling.state, dangling.cname_chain) == ("nodata", ("y.example.", "z.example."))
    assert dangling.detail == "CNAME target z.example. does not exist (NXDOMAIN)"
    asked = classify(NAME, dns.rdatatype.CNAME, _reply(answer=chain, rdtype="CNAME"))
    assert asked.records == ("y.example.",)
    loop = ("x.example. 60 CNAME x.example.",)
    assert classify(NAME, A, _reply(answer=loop)).state == "unknown"


def test_dangling_cname_is_registered_not_free() -> None:
    # paypal.azurewebsites.net -> waws-prod-gone.cloudapp.net, which no longer exists.
    name = dns.name.from_text("paypal.azurewebsites.net.")
    reply = dns.message.make_response(dns.message.make_query(name, "NS"))
    reply.set_rcode(dns.rcode.NXDOMAIN)
    reply.answer.append(_rrset("paypal.azurewebsites.net. 60 CNAME waws-prod-gone.cloudapp.net."))
    reply.authority.append(
        _rrset("cloudapp.net. 60 SOA ns.cloudapp.net. h.cloudapp.net. 1 2 3 4 5")
    )
    ns = classify(name, dns.rdatatype.NS, reply)
    assert (ns.name, ns.state, ns.cname_chain) == (
        "paypal.azurewebsites.net.",
        "nodata",
        ("waws-prod-gone.cloudapp.net.",),
    )
    assert decide(ns, None) == "registered"
    # Asked for the CNAME itself, the record is the answer, whatever the rcode says.
    cname = classify(name, dns.rdatatype.CNAME, reply)
    assert (cname.state, cname.records) == ("resolves", ("waws-prod-gone.cloudapp.net.",))


@pytest.mark.parametrize(
    ("ns", "soa", "expected"),
    [
        (Answer("x.", "NS", "nxdomain"), None, "free"),
        # as snapshots stored before the fix recorded a dangling alias
        (Answer("x.", "NS", "nxdomain", cname_chain=("gone.example.",)), None, "registered"),
        (Answer("x.", "NS", "nodata", cname_chain=("gone.example.",)), None, "registered"),
        (Answer("x.", "NS", "resolves", ("ns1.example.",)), None, "registered"),
        (Answer("x.", "NS", "unknown", detail="SERVFAIL"), None, "unknown"),
        (Answer("x.", "NS", "nodata"), Answer("x.", "SOA", "unknown"), "unknown"),
        (Answer("x.", "NS", "nodata"), Answer("x.", "SOA", "nodata"), "unknown"),
        (Answer("x.", "NS", "nodata"), Answer("x.", "SOA", "resolves", ("soa",)), "registered"),
    ],
)
def test_decide(ns: Answer, soa: Answer | None, expected: str) -> None:
    assert decide(ns, soa) == expected


def test_classify_referral() -> None:
    referral = _reply(aa=False, authority=("x.example. 60 NS ns1.park.example.",))
    ns = classify(NAME, dns.rdatatype.NS, referral)
    assert (ns.state, ns.records, ns.referral) == ("resolves", ("ns1.park.example.",), True)
    assert classify(NAME, A, referral).state == "unknown"
    upward = _reply(aa=False, authority=("example. 60 NS ns1.example.",))
    assert classify(NAME, dns.rdatatype.NS, upward).state == "unknown"


def test_txt_strings_are_joined() -> None:
    reply = _reply(answer=('x.example. 60 TXT "v=spf1 " "-all"',), rdtype="TXT")
    assert classify(NAME, dns.rdatatype.TXT, reply).records == ("v=spf1 -all",)


def test_parse_nameserver() -> None:
    assert parse_nameserver("192.0.2.1") == ("192.0.2.1", 53)
    assert parse_nameserver("192.0.2.1:5353") == ("192.0.2.1", 5353)
    assert parse_nameserver("[2001:db8::1]:5353") == ("2001:db8::1", 5353)
    assert parse_nameserver("2001:db8::1", 54) == ("2001:db8::1", 54)
    for bad in ("dns.example", "192.0.2.1:0", "192.0.2.1:x", "[::1", "[::1]x", ""):
        with pytest.raises(ValueError, match=r"\S"):
            parse_nameserver(bad)


def test_config_validation() -> None:
    with pytest.raises(ValueError, match="nameserver"):
        ResolverConfig([])
    with pytest.raises(ValueError, match="rate_per_second"):
        ResolverConfig(["127.0.0.1"], rate_per_second=0)
    with pytest.raises(ValueError, match="concurrency"):
        ResolverConfig(["127.0.0.1"], concurrency=0)
    assert ResolverConfig(["127.0.0.1"], rate_per_second=1000).bucket_depth == 50


def _scripted(script: Sequence[object]) -> tuple[DnsClient, list[float], list[tuple[str, int]]]:
    outcomes = list(script)
    sleeps: list[float] = []
    asked: list[tuple[str, int]] = []

    async def query_fn(
        query: dns.message.Message, address: str, port: int, timeout: float
    ) -> dns.message.Message:
        asked.append((address, port))
        outcome = outcomes.pop(0)
        if isinstance(outcome, BaseException):
            raise outcome
        assert isinstance(outcome, dns.rcode.Rcode)
        reply = dns.message.make_response(query)
        reply.set_rcode(outcome)
        if outcome == dns.rcode.NOERROR:
            reply.answer.append(
                dns.rrset.from_text(query.question[0].name, 60, "IN", "A", "192.0.2.7")
            )
        return reply

    async def sleep(seconds: float) -> None:
        sleeps.append(seconds)

    config = ResolverConfig(
        ["192.0.2.53", "192.0.2.54:5353"], retries=3, rate_per_second=None, backoff_initial=0.1
    )
    return DnsClient(config, query_fn=query_fn, sleep=sleep, rng=lambda: 1.0), sleeps, asked


def test_retries_with_backoff_across_nameservers_then_resolves() -> None:
    client, sleeps, asked = _scripted(
        [
            dns.exception.Timeout(),  # type: ignore[no-untyped-call]
            dns.rcode.SERVFAIL,
            ConnectionRefusedError(),
            dns.rcode.NOERROR,
        ]
    )
    answer = run(client.query("x.example", "A"))
    assert (answer.state, answer.records) == ("resolves", ("192.0.2.7",))
    assert sleeps == pytest.approx([0.1, 0.2, 0.4])
    assert asked == [("192.0.2.53", 53), ("192.0.2.54", 5353)] * 2


def test_unknown_after_all_retries_keeps_the_last_detail() -> None:
    client, _, _ = _scripted([dns.rcode.SERVFAIL] * 3 + [dns.rcode.REFUSED])
    answer = run(client.query("x.example", "A"))
    assert answer.state == "unknown"
    assert answer.detail == "REFUSED (192.0.2.54#5353) (after 4 attempts)"
    assert client.outcomes["unknown"] == 1


def test_nxdomain_is_not_retried() -> None:
    client, sleeps, _ = _scripted([dns.rcode.NXDOMAIN])
    assert run(client.query("x.example", "A")).state == "nxdomain"
    assert (client.sent, sleeps) == (1, [])


def test_bad_input_raises() -> None:
    client, _, _ = _scripted([])
    with pytest.raises(DnsError, match="invalid name"):
        run(client.query("a" * 64 + ".example", "A"))
    with pytest.raises(DnsError, match="invalid record type"):
        run(client.query("x.example", "NOPE"))


def test_token_bucket_by_reservation() -> None:
    now = [0.0]
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)

    limiter = RateLimiter(10.0, 2.0, clock=lambda: now[0], sleep=sleep)

    async def take(n: int) -> None:
        for _ in range(n):
            await limiter.acquire()

    run(take(4))  # two from the bucket, then 0.1 s and 0.2 s of debt
    assert slept == pytest.approx([0.1, 0.2])
    now[0] = 10.0  # a long pause refills the bucket to its depth, not beyond
    slept.clear()
    run(take(3))
    assert slept == pytest.approx([0.1])


def _with_ns(state: str, *hosts: str) -> Enrichment:
    from datetime import UTC, datetime

    answer = Answer("paypal.de", "NS", state, records=tuple(hosts))  # type: ignore[arg-type]
    return Enrichment("paypal.de", "paypal.de", datetime.now(UTC), {"NS": answer})


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        (None, _with_ns("resolves", "ns1.paypal.com."), (["brand_nameservers"], -30)),
        (None, _with_ns("resolves", "ns1.registrar.example."), ([], 0)),
        (
            _with_ns("resolves", "ns1.registrar.example."),
            _with_ns("resolves", "NS2.PayPal.com"),
            (["brand_nameservers"], -30),
        ),
        (
            _with_ns("resolves", "ns1.paypal.com."),
            _with_ns("resolves", "ns1.registrar.example."),
            (["left_brand_nameservers"], 30),
        ),
        (_with_ns("resolves", "ns1.paypal.com."), _with_ns("resolves", "ns2.paypal.com."), ([], 0)),
        # the last known looks never had an NS answer: as on a first check
        (
            _with_ns("unknown"),
            _with_ns("resolves", "ns1.paypal.com."),
            (["brand_nameservers"], -30),
        ),
        # unknown now is no change
        (_with_ns("resolves", "ns1.paypal.com."), _with_ns("unknown"), ([], 0)),
        # a look-alike of the brand's domain is not the brand's domain
        (None, _with_ns("resolves", "ns1.notpaypal.com."), ([], 0)),
    ],
)
def test_ownership_changes(
    old: Enrichment | None, new: Enrichment, expected: tuple[list[str], int]
) -> None:
    assert ownership_changes(old, new, ["paypal.com"]) == expected

"""Lookups against a real knotd: the four states, retries, limits, enrichment, registration."""

from __future__ import annotations

import asyncio
import json
import time

import dns.message
import pytest

from service.sources.dns.enrich import Enrichment, enrich, material_changes, severity_boost
from service.sources.dns.errors import DnsError
from service.sources.dns.registration import registration_state
from service.sources.dns.resolver import Answer, DnsClient, ResolverConfig, udp_then_tcp
from tests.dns.conftest import ZONES, run
from tests.dns.server import KnotServer


def test_resolves_with_records(client: DnsClient) -> None:
    a = run(client.query("example-lookalike.test", "A"))
    assert (a.state, a.records, a.ttl) == ("resolves", ("192.0.2.1",), 300)
    mx = run(client.query("example-lookalike.test.", "MX"))
    assert mx.records == ("10 mail.example-lookalike.test.",)
    txt = run(client.query("example-lookalike.test", "TXT"))
    # TXT strings are joined, as SPF reads them.
    assert "v=spf1 ip4:192.0.2.0/24 -all" in txt.records


def test_cname_is_followed_in_the_answer(client: DnsClient) -> None:
    a = run(client.query("www.example-lookalike.test", "A"))
    assert a.state == "resolves"
    assert a.records == ("192.0.2.1",)
    assert a.cname_chain == ("example-lookalike.test.",)


def test_nxdomain_and_nodata(client: DnsClient) -> None:
    assert run(client.query("nope.example-lookalike.test", "A")).state == "nxdomain"
    assert run(client.query("mail.example-lookalike.test", "MX")).state == "nodata"
    assert run(client.query("mxonly.example-lookalike.test", "A")).state == "nodata"


def test_servfail_refused_and_referral_are_unknown(client: DnsClient) -> None:
    servfail = run(client.query("www.broken", "A"))
    assert servfail.state == "unknown"
    assert "SERVFAIL" in servfail.detail
    refused = run(client.query("example.org", "A"))  # not a zone this server has
    assert (refused.state, "REFUSED" in refused.detail) == ("unknown", True)
    referral = run(client.query("www.elsewhere.test", "A"))
    assert referral.state == "unknown"
    assert "referral to elsewhere.test." in referral.detail


def test_timeout_is_unknown_after_the_retries(silent_port: int) -> None:
    config = ResolverConfig([f"127.0.0.1:{silent_port}"], timeout=0.2, retries=1, backoff_max=0)
    client = DnsClient(config)
    started = time.monotonic()
    answer = run(client.query("example-lookalike.test", "A"))
    assert answer.state == "unknown"
    assert "timeout" in answer.detail
    assert "after 2 attempts" in answer.detail
    assert client.sent == 2
    assert 0.35 < time.monotonic() - started < 2.0


def test_a_retry_goes_to_the_next_nameserver(knot: KnotServer, silent_port: int) -> None:
    servers = [f"127.0.0.1:{silent_port}", f"127.0.0.1:{knot.port}"]
    client = DnsClient(ResolverConfig(servers, timeout=0.2, retries=1, backoff_max=0))
    answer = run(client.query("example-lookalike.test", "A"))
    assert answer.state == "resolves"
    assert client.sent == 2


def test_concurrency_limit_is_respected(knot: KnotServer) -> None:
    in_flight = 0
    peak = 0

    async def counting(
        query: dns.message.Message, address: str, port: int, timeout: float
    ) -> dns.message.Message:
        nonlocal in_flight, peak
        in_flight += 1
        peak = max(peak, in_flight)
        try:
            await asyncio.sleep(0.002)  # hold the slot long enough for the others to pile up
            return await udp_then_tcp(query, address, port, timeout)
        finally:
            in_flight -= 1

    config = ResolverConfig([f"127.0.0.1:{knot.port}"], concurrency=5, rate_per_second=None)
    client = DnsClient(config, query_fn=counting)

    async def many() -> list[str]:
        answers = await asyncio.gather(*(client.query(f"h{i}.wild.test", "A") for i in range(200)))
        return [a.state for a in answers]

    assert set(run(many())) == {"resolves"}
    assert peak == 5


def test_rate_limit_is_respected(knot: KnotServer) -> None:
    rate, burst, n = 200.0, 5, 100
    sends: list[float] = []

    async def stamped(
        query: dns.message.Message, address: str, port: int, timeout: float
    ) -> dns.message.Message:
        sends.append(time.monotonic())
        return await udp_then_tcp(query, address, port, timeout)

    config = ResolverConfig([f"127.0.0.1:{knot.port}"], rate_per_second=rate, burst=burst)

    async def many() -> tuple[float, float]:
        client = DnsClient(config, query_fn=stamped)
        started = time.monotonic()
        answers = await asyncio.gather(*(client.query(f"r{i}.wild.test", "A") for i in range(n)))
        assert {a.state for a in answers} == {"resolves"}
        return started, time.monotonic() - started

    started, elapsed = run(many())
    # The bucket starts full: `burst` sends at once, then one every 1/rate s. A busy
    # machine can only make sends late, never early, so the k-th send is never
    # before (k + 1 - burst) / rate.
    for k, sent in enumerate(sorted(sends)):
        assert sent - started >= (k + 1 - burst) / rate - 0.002, k
    assert elapsed >= (n - burst) / rate
    assert elapsed < (n - burst) / rate + 1.0  # and the limiter does not over-throttle


def test_enrich_a_mail_ready_lookalike(client: DnsClient) -> None:
    e = run(enrich(client, "example-lookalike.test"))
    assert e.state == "resolves"
    assert e.records("AAAA") == ("2001:db8::1",)
    assert (e.has_mx, e.spf, e.dmarc) == (True, True, True)
    assert e.wildcard is False
    assert (e.parked, e.parking_provider) == (False, None)
    assert e.records("NS") == ("ns1.example-lookalike.test.",)
    assert e.soa is not None
    assert e.soa.startswith("ns1.example-lookalike.test. hostmaster.example-lookalike.test.")
    assert severity_boost(e) == 15
    snapshot = e.to_json()
    assert snapshot["state"] == "resolves"
    assert snapshot["mx"] == ["10 mail.example-lookalike.test."]
    assert snapshot["checked_at"].endswith("+00:00")
    assert material_changes(None, e) == ["first_resolution", "mx_appeared"]


def test_enrich_a_subdomain_asks_ns_at_the_registrable_domain(client: DnsClient) -> None:
    e = run(enrich(client, "WWW.Example-Lookalike.test."))
    assert (e.name, e.registrable) == ("www.example-lookalike.test", "example-lookalike.test")
    assert e.records("CNAME") == ("example-lookalike.test.",)
    assert e.records("NS") == ("ns1.example-lookalike.test.",)
    assert e.has_mx is True  # www is an alias of the apex, so mail to www goes there too
    assert run(enrich(client, "mail.example-lookalike.test")).has_mx is False


def test_wildcard_detection(client: DnsClient) -> None:
    e = run(enrich(client, "anything.wild.test"))
    assert e.wildcard is True
    assert e.state == "resolves"
    assert e.has_mx is False
    assert severity_boost(e) == 5


def test_parking_detection(client: DnsClient) -> None:
    e = run(enrich(client, "parked.test"))
    assert (e.parked, e.parking_provider) == (True, "Sedo")
    assert e.state == "resolves"
    # Delegated to a parking provider this server does not serve: NS comes from the
    # referral, the addresses stay unknown.
    d = run(enrich(client, "parked-deleg.test"))
    assert (d.parked, d.parking_provider) == (True, "Bodis")
    assert d.answer("NS").referral
    assert d.state == "unknown"
    assert "first_resolution" not in material_changes(None, d)


def test_material_changes_across_zone_reloads(knot: KnotServer) -> None:
    def snapshot() -> object:
        async def go() -> object:
            client = DnsClient(ResolverConfig([f"127.0.0.1:{knot.port}"], timeout=1.0))
            return await enrich(client, "changing.test")

        return run(go())

    knot.set_zone("changing.test.", "@ A 192.0.2.50\n")
    v1 = snapshot()
    knot.set_zone(
        "changing.test.",
        "@ NS ns2.changing.test.\n@ A 192.0.2.50\n@ MX 10 mx.changing.test.\n",
    )
    v2 = snapshot()
    assert material_changes(v1, v2) == ["mx_appeared", "ns_changed"]  # type: ignore[arg-type]
    knot.set_zone("changing.test.", "@ NS ns2.changing.test.\n@ MX 10 mx.changing.test.\n")
    v3 = snapshot()
    assert material_changes(v2, v3) == ["went_dark"]  # type: ignore[arg-type]
    knot.set_zone(
        "changing.test.",
        "@ NS ns1.parkingcrew.net.\n@ NS ns2.parkingcrew.net.\n@ A 192.0.2.51\n",
    )
    v4 = snapshot()
    assert material_changes(v3, v4) == [  # type: ignore[arg-type]
        "first_resolution",
        "mx_gone",
        "ns_changed",
        "parked",
    ]
    knot.set_zone("changing.test.", "@ NS ns1.changing.test.\n@ A 192.0.2.51\n")
    v5 = snapshot()
    assert material_changes(v4, v5) == ["ns_changed", "unparked"]  # type: ignore[arg-type]


def test_registration_states(client: DnsClient) -> None:
    assert run(registration_state(client, "example-lookalike.test")) == "registered"
    assert run(registration_state(client, "deep.www.example-lookalike.test")) == "registered"
    # A delegation the server does not serve: the referral is the parent's word.
    assert run(registration_state(client, "elsewhere.test")) == "registered"
    assert run(registration_state(client, "never-registered.test")) == "free"
    assert run(registration_state(client, "x.broken")) == "unknown"


def test_registration_under_a_multi_label_suffix(client: DnsClient) -> None:
    assert run(registration_state(client, "www.taken.co.uk")) == "registered"
    # co.uk itself has NS and SOA here; a free name under it must still read as free.
    assert run(registration_state(client, "free-name.co.uk")) == "free"


def test_registration_free_then_registered_when_the_parent_delegates(knot: KnotServer) -> None:
    async def state() -> str:
        client = DnsClient(ResolverConfig([f"127.0.0.1:{knot.port}"], timeout=1.0))
        return await registration_state(client, "www.fresh-lookalike.regtest")

    knot.set_zone("regtest.", "ns1 A 127.0.0.1\n")
    assert run(state()) == "free"
    knot.set_zone("regtest.", "ns1 A 127.0.0.1\nfresh-lookalike NS ns1.someregistrar.example.\n")
    assert run(state()) == "registered"


def test_registration_timeout_is_unknown(silent_port: int) -> None:
    config = ResolverConfig([f"127.0.0.1:{silent_port}"], timeout=0.1, retries=0)
    assert run(registration_state(DnsClient(config), "example-lookalike.test")) == "unknown"


def test_unknown_never_counts_as_went_dark(knot: KnotServer, silent_port: int) -> None:
    async def go() -> list[str]:
        good = DnsClient(ResolverConfig([f"127.0.0.1:{knot.port}"], timeout=1.0))
        bad = DnsClient(ResolverConfig([f"127.0.0.1:{silent_port}"], timeout=0.1, retries=0))
        before = await enrich(good, "example-lookalike.test")
        after = await enrich(bad, "example-lookalike.test")
        assert after.state == "unknown"
        assert (after.has_mx, after.parked, after.wildcard) == (None, None, None)
        assert severity_boost(after) == 0
        return material_changes(before, after)

    assert run(go()) == []


def test_snapshot_round_trips_through_json(client: DnsClient) -> None:
    e = run(enrich(client, "parked-deleg.test"))
    back = Enrichment.from_json(json.loads(json.dumps(e.to_json())))
    assert back.to_json() == e.to_json()
    assert material_changes(back, e) == []
    with pytest.raises(DnsError, match="not an enrichment snapshot"):
        Enrichment.from_json({"name": "x"})


def test_a_dangling_cname_is_registered_not_free(knot: KnotServer) -> None:
    # The alias's target exists in no zone served: the server answers NXDOMAIN with the CNAME.
    async def look() -> tuple[Answer, str, Enrichment]:
        client = DnsClient(ResolverConfig([f"127.0.0.1:{knot.port}"], timeout=1.0, retries=0))
        ns = await client.query("dangling-lookalike.regtest", "NS")
        return (
            ns,
            await registration_state(client, "dangling-lookalike.regtest"),
            await enrich(client, "dangling-lookalike.regtest"),
        )

    knot.set_zone("regtest.", "ns1 A 127.0.0.1\ndangling-lookalike CNAME gone.regtest.\n")
    try:
        ns, registration, enrichment = run(look())
    finally:
        knot.set_zone("regtest.", str(ZONES["regtest."]))
    assert (ns.state, ns.cname_chain) == ("nodata", ("gone.regtest.",))
    assert "gone.regtest. does not exist" in ns.detail
    assert registration == "registered"
    assert enrichment.registration == "registered"
    assert enrichment.records("CNAME") == ("gone.regtest.",)
    assert enrichment.state == "nodata"  # the name exists, with no address to reach
    assert enrichment.wildcard is False


def test_enrich_asks_the_normalised_host_of_a_url_or_idn(client: DnsClient) -> None:
    url = run(enrich(client, "https://WWW.Example-Lookalike.test:8443/login?next=/"))
    assert (url.name, url.registrable) == ("www.example-lookalike.test", "example-lookalike.test")
    assert url.answer("A").name == "www.example-lookalike.test."
    assert url.records("A") == ("192.0.2.1",)
    idn = run(enrich(client, "pаypal.test"))  # Cyrillic а
    assert idn.name == "xn--pypal-4ve.test"
    assert idn.answer("MX").name == "xn--pypal-4ve.test."
    assert idn.answer("MX").state == "nxdomain"

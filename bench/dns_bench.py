"""DNS lookup throughput: DnsClient at its default concurrency vs sequential and sync baselines.

Starts a local knotd (Debian package `knot`) serving one zone of N hosts on
127.0.0.1, then, in the same run and on the same names (3/4 existing, 1/4
NXDOMAIN), times:

  * DnsClient.query(name, "A") for all names at once, default concurrency
    (64), rate limit off (the measured path; the default 1,000/s limit would
    cap it, so that is reported on its own line);
  * the same with the default ResolverConfig (limit on);
  * baseline 1: DnsClient.query awaited one name at a time;
  * baseline 2: dnspython's synchronous dns.resolver.Resolver in a loop;
  * both DnsClient paths again with 5 ms added to every query (a resolver
    that is not on the same machine): what concurrency is for;
  * enrich() per second (9 queries per name) at the default concurrency.

The server and the client share the machine's cores, so figures are a lower
bound for a client talking to a resolver elsewhere.

    .venv/bin/python bench/dns_bench.py [--names 4000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import dns.message
import dns.resolver

from service.sources.dns.enrich import enrich
from service.sources.dns.resolver import DnsClient, ResolverConfig, udp_then_tcp
from tests.dns.server import APT_INSTALL, KnotServer

ZONE = "benchzone.test."
LATENCY = 0.005


def names(n: int) -> list[str]:
    # Every fourth name is absent: NXDOMAIN is common for lookalike candidates.
    return [f"h{i}.benchzone.test" if i % 4 else f"absent{i}.benchzone.test" for i in range(n)]


def best_rate(run: Callable[[], int], repeat: int) -> tuple[float, int]:
    """(best items/s, items) over `repeat` runs."""
    best, count = 0.0, 0
    for _ in range(repeat):
        t0 = time.perf_counter()
        count = run()
        best = max(best, count / (time.perf_counter() - t0))
    return best, count


def in_loop(make: Callable[[], Coroutine[Any, Any, int]]) -> Callable[[], int]:
    return lambda: asyncio.run(make())


def lookup_section(server: KnotServer, args: argparse.Namespace) -> None:
    n: int = args.names
    todo = names(n)
    where = [f"127.0.0.1:{server.port}"]
    unlimited = ResolverConfig(where, rate_per_second=None)

    async def concurrent(config: ResolverConfig) -> int:
        client = DnsClient(config)
        answers = await asyncio.gather(*(client.query(n, "A") for n in todo))
        unknown = sum(a.state == "unknown" for a in answers)
        assert unknown == 0, f"{unknown} unknown answers: the server is overloaded"
        return len(answers)

    async def sequential() -> int:
        client = DnsClient(unlimited)
        for name in todo[: n // 4]:
            await client.query(name, "A")
        return n // 4

    def sync_resolver() -> int:
        resolver = dns.resolver.Resolver(configure=False)
        resolver.nameservers = ["127.0.0.1"]
        resolver.port = server.port
        resolver.cache = None
        for name in todo[: n // 4]:
            with contextlib.suppress(dns.resolver.NXDOMAIN):
                resolver.resolve(name, "A", raise_on_no_answer=False)
        return n // 4

    async def with_latency(concurrency: int) -> int:
        # A resolver 5 ms away (a LAN or nearby ISP resolver), simulated before the real query.
        async def far(q: dns.message.Message, a: str, p: int, t: float) -> dns.message.Message:
            await asyncio.sleep(LATENCY)
            return await udp_then_tcp(q, a, p, t)

        config = ResolverConfig(where, rate_per_second=None, concurrency=concurrency)
        client = DnsClient(config, query_fn=far)
        subset = todo if concurrency > 1 else todo[:200]
        await asyncio.gather(*(client.query(n, "A") for n in subset))
        return len(subset)

    async def enrichments() -> int:
        client = DnsClient(unlimited)
        subset = [f"h{i}.benchzone.test" for i in range(1, n // 8)]
        await asyncio.gather(*(enrich(client, n) for n in subset))
        return len(subset)

    rows = [
        (
            f"DnsClient.query, concurrency {unlimited.concurrency}, no rate limit",
            best_rate(in_loop(lambda: concurrent(unlimited)), args.repeat),
        ),
        (
            "DnsClient.query, default ResolverConfig (rate limit 1,000/s)",
            best_rate(in_loop(lambda: concurrent(ResolverConfig(where))), 1),
        ),
        (
            "baseline: DnsClient.query awaited one at a time",
            best_rate(in_loop(sequential), args.repeat),
        ),
        (
            "baseline: dnspython sync Resolver.resolve in a loop",
            best_rate(sync_resolver, args.repeat),
        ),
        (
            f"DnsClient.query, concurrency 64, +{LATENCY * 1000:.0f} ms per query",
            best_rate(in_loop(lambda: with_latency(64)), 1),
        ),
        (
            f"baseline: DnsClient.query, concurrency 1, +{LATENCY * 1000:.0f} ms per query",
            best_rate(in_loop(lambda: with_latency(1)), 1),
        ),
        (
            "enrich() (9 queries each), concurrency 64, no rate limit",
            best_rate(in_loop(enrichments), 1),
        ),
    ]
    print(f"## lookups against knotd on 127.0.0.1 ({args.names} names, best of {args.repeat})")
    print()
    print("| what | items | per second |")
    print("|---|---:|---:|")
    for label, (rate, count) in rows:
        print(f"| {label} | {count:,} | {rate:,.0f} |")
    print()
    print(f"concurrent / sequential on loopback: {rows[0][1][0] / rows[2][1][0]:.1f}x")
    print(f"concurrent / sequential at 5 ms: {rows[4][1][0] / rows[5][1][0]:.1f}x")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--names", type=int, default=4000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    if shutil.which("knotd", path="/usr/sbin:/usr/bin:/sbin") is None:
        sys.exit(f"knotd not found: install Knot DNS with `{APT_INSTALL}`")
    hosts = "\n".join(f"h{i} A 192.0.2.{i % 250 + 1}" for i in range(args.names))
    with tempfile.TemporaryDirectory(prefix="pw-dns-bench-") as tmp:
        server = KnotServer(Path(tmp), {ZONE: hosts})
        server.start()
        try:
            lookup_section(server, args)
            # --nrd: the NRD-ingest section goes here, as its own function called
            # with (server, args), behind a new --nrd flag; none exists yet.
        finally:
            server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())

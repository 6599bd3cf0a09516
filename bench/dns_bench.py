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
import os
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
    parser.add_argument(
        "--databases",
        nargs="+",
        default=["sqlite", "postgresql"],
        help="stores for the NRD ingest section (default: sqlite postgresql)",
    )
    args = parser.parse_args()
    if shutil.which("knotd", path="/usr/sbin:/usr/bin:/sbin") is None:
        sys.exit(f"knotd not found: install Knot DNS with `{APT_INSTALL}`")
    hosts = "\n".join(f"h{i} A 192.0.2.{i % 250 + 1}" for i in range(args.names))
    with tempfile.TemporaryDirectory(prefix="pw-dns-bench-") as tmp:
        server = KnotServer(Path(tmp), {ZONE: hosts})
        server.start()
        try:
            lookup_section(server, args)
        finally:
            server.stop()
    nrd_section(args)
    return 0


def nrd_section(args: argparse.Namespace) -> None:
    """NRD names/s end to end: parse, score against 1,000 brands, store alerts and cursor."""
    import secrets as tokens

    from sqlalchemy import func, select, text
    from sqlalchemy.engine import make_url

    from service.alerts.models import Alert
    from service.brands.models import Brand
    from service.config import Settings, normalize_database_url
    from service.db import Database
    from service.detection import score_names
    from service.ingest.feed_jobs import FeedJobs
    from service.ingest.scoring import BrandIndexCache
    from service.migrate import upgrade
    from service.sources.dns.nrd import read_nrd

    shared = Path(__file__).resolve().parent.parent.parent / "shared" / "data"
    nrd_file, tranco = (
        shared / "nrd" / "whoisds_2025-12-01.txt",
        shared / "benign" / "tranco_top10k_20250626.csv",
    )
    if not nrd_file.exists() or not tranco.exists():
        print("\nNRD ingest: skipped (../shared/data absent)")
        return
    data = nrd_file.read_bytes()
    brands = [line.strip() for line in tranco.read_text().splitlines()[1:1001]]
    t0 = time.perf_counter()
    names = read_nrd(data).domains
    parse_rate = len(names) / (time.perf_counter() - t0)

    print(f"\nNRD ingest, {len(names):,} names of {nrd_file.name} against {len(brands):,} brands")
    print(f"{'database':11} {'end to end':>12} {'score only':>12} {'parse only':>12}  alerts")
    for kind in args.databases:
        schema = None
        if kind == "sqlite":
            tmp = tempfile.mkdtemp(prefix="pw-nrd-bench-")
            url = make_url(f"sqlite:///{tmp}/bench.db")
        else:
            base = normalize_database_url(
                os.environ.get(
                    "PHANTOMWATCH_TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1/test"
                )
            )
            schema = f"pw_nrdbench_{tokens.token_hex(4)}"
            admin = Database(base)
            with admin.engine.begin() as conn:
                conn.execute(text(f'CREATE SCHEMA "{schema}"'))
            url = base.update_query_dict({"options": f"-csearch_path={schema}"})
        upgrade(url)
        database = Database(url)
        with database.session() as session:
            for domain in brands:
                session.add(
                    Brand(name=domain, domains=[domain], keywords=[domain.split(".")[0]], allow=[])
                )
        cache = BrandIndexCache()
        with database.session() as session:
            index = cache.get(session).index
        t0 = time.perf_counter()
        score_names(index, names)
        score_rate = len(names) / (time.perf_counter() - t0)
        # a fresh index: the end-to-end run must not profit from the warm caches
        jobs = FeedJobs(Settings(database_url=url.render_as_string(hide_password=False)), database)
        t0 = time.perf_counter()
        report = jobs.ingest_nrd("bench", data)
        e2e_rate = report.names / (time.perf_counter() - t0)
        with database.session() as session:
            stored = session.scalar(select(func.count()).select_from(Alert))
        print(
            f"{kind:11} {e2e_rate:>10,.0f}/s {score_rate:>10,.0f}/s {parse_rate:>10,.0f}/s  {stored}"
        )
        database.dispose()
        if schema:
            with admin.engine.begin() as conn:
                conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
            admin.dispose()


if __name__ == "__main__":
    sys.exit(main())

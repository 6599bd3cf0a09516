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

Then NRD ingest names/s end to end (see nrd_section) on each store of
`--databases`. `--only lookups` or `--only nrd` runs one section (the NRD one
needs no knotd).

    .venv/bin/python bench/dns_bench.py [--names 4000] [--repeat 3] [--only nrd]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Coroutine, Iterator
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import dns.message
import dns.resolver
from _common import postgres_url, private_schema

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
    parser.add_argument(
        "--only", choices=["lookups", "nrd"], help="run one section (default: both)"
    )
    args = parser.parse_args()
    if args.only != "nrd":
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
    if args.only != "lookups":
        nrd_section(args)
    return 0


def cold_name_caches() -> None:
    """Empty the engine's module-level per-name memos (label skeletons, word splits).

    A forked scoring process inherits them: after an in-process run over the very
    names about to be ingested they would be warm, which a new day's feed never finds.
    """
    from service.detection import lexicon, normalize

    memos = [("skeleton", normalize), ("skeleton_unaccented", normalize), ("segment", lexicon)]
    for name, module in memos:
        clear = getattr(getattr(module, name, None), "cache_clear", None)
        if clear is not None:
            clear()


@contextlib.contextmanager
def bench_store(kind: str, brands: list[str]) -> Iterator[tuple[Any, Any]]:
    """(Database, URL) of a fresh, migrated store holding one brand per domain of `brands`."""
    from sqlalchemy.engine import make_url

    from service.brands.models import Brand
    from service.db import Database
    from service.migrate import upgrade

    with contextlib.ExitStack() as stack:
        if kind == "sqlite":
            tmp = stack.enter_context(tempfile.TemporaryDirectory(prefix="pw-nrd-bench-"))
            url = make_url(f"sqlite:///{tmp}/bench.db")
        else:
            url = stack.enter_context(private_schema(postgres_url(), "pw_nrdbench"))
        upgrade(url)
        database = Database(url)
        stack.callback(database.dispose)
        with database.session() as session:
            for domain in brands:
                keywords = [domain.split(".")[0]]
                session.add(Brand(name=domain, domains=[domain], keywords=keywords, allow=[]))
        yield database, url


def nrd_section(args: argparse.Namespace) -> None:
    """NRD names/s end to end: parse, score against 1,000 brands, store alerts and cursor.

    end to end: FeedJobs.ingest_nrd as a long-running worker does it, whose
      BrandIndexCache already holds the brand index (built before the clock
      starts), while the per-name caches are cold (a fresh index, the module
      memos emptied): the figure for a new day's feed;
    cold start: the same as a worker's first run, the brand index built on the
      clock (in another fresh store, so both record the same alerts);
    score only: score_names over the list in this one process, fresh index, cold caches;
    parse only: read_nrd over the bytes.
    """
    from sqlalchemy import func, select

    from service.alerts.models import Alert
    from service.config import Settings
    from service.detection import score_names
    from service.ingest.feed_jobs import FeedJobs
    from service.ingest.scoring import BrandIndexCache
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

    def ingest(database: Any, url: Any, cache: BrandIndexCache) -> tuple[float, int]:
        with tempfile.TemporaryDirectory(prefix="pw-nrd-state-") as state:
            settings = Settings(
                database_url=url.render_as_string(hide_password=False), feeds_state_dir=state
            )
            jobs = FeedJobs(settings, database, brands=cache)
            t0 = time.perf_counter()
            report = jobs.ingest_nrd("bench", data)
            rate = report.names / (time.perf_counter() - t0)
        with database.session() as session:
            return rate, session.scalar(select(func.count()).select_from(Alert)) or 0

    print(f"\nNRD ingest, {len(names):,} names of {nrd_file.name} against {len(brands):,} brands")
    print(
        f"{'database':11} {'end to end':>12} {'cold start':>12} {'score only':>12}"
        f" {'parse only':>12}  alerts"
    )
    for kind in args.databases:
        with bench_store(kind, brands) as (database, url):
            cold_name_caches()
            with database.session() as session:
                index = BrandIndexCache().get(session).index
            t0 = time.perf_counter()
            score_names(index, names)
            score_rate = len(names) / (time.perf_counter() - t0)
            del index
            cold_name_caches()
            warm = BrandIndexCache()  # the worker's, its index built before the clock starts
            with database.session() as session:
                warm.get(session)
            # A running worker has long since had the full collection the index build
            # makes due; left pending, it lands at a random point of the timed run.
            gc.collect()
            e2e_rate, stored = ingest(database, url, warm)
        with bench_store(kind, brands) as (database, url):
            cold_name_caches()
            cold_rate, cold_stored = ingest(database, url, BrandIndexCache())
        assert cold_stored == stored, (cold_stored, stored)
        print(
            f"{kind:11} {e2e_rate:>10,.0f}/s {cold_rate:>10,.0f}/s {score_rate:>10,.0f}/s"
            f" {parse_rate:>10,.0f}/s  {stored}"
        )


if __name__ == "__main__":
    sys.exit(main())

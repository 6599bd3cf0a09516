"""End-to-end CT pipeline throughput: emulator over HTTP -> parse -> score (1,000 brands) -> store.

The emulator runs in a separate process (so it does not share this process's
GIL), serving N certificates (precert + final each) in an RFC 6962 log and a
tiled log. In this one worker process, for each database, every log is read
twice: parse-only (HTTP, Merkle verification, names; the baseline) and the
full pipeline (CtIngestor: the same, plus scoring against 1,000 brands and
recording alerts and the cursor per batch). Prints entries/s side by side and
the peak RSS.

    .venv/bin/python bench/ct_bench.py pipeline [--issuances 20000] [--database sqlite|postgresql|both]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import random
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from _common import postgres_url, private_schema
from sqlalchemy import func, select
from sqlalchemy.engine import URL, make_url

from service.alerts.models import Alert
from service.brands.models import Brand
from service.ctlogs.models import CtLog
from service.ctlogs.service import sync_log_list
from service.db import Database
from service.ingest.ct import CtConfig, CtIngestor
from service.migrate import upgrade
from service.sources.ct.entries import extract
from service.sources.ct.http import CTHttpClient
from service.sources.ct.loglist import fetch_log_list
from service.sources.ct.merkle import CompactRange
from service.sources.ct.reader import reader_for

SHARED = ROOT.parent / "shared" / "data"
SERVER = """
import json, sys
sys.path.insert(0, {root!r})
from service.sources.ct.emulator import Emulator
names = json.load(open({names!r}))
emu = Emulator()
emu.add_certificates(names)
print(json.dumps(emu.start()), flush=True)
sys.stdin.read()
emu.stop()
"""


def brand_domains(count: int) -> list[str]:
    tranco = SHARED / "benign" / "tranco_top10k_20250626.csv"
    if tranco.exists():
        return [line.strip() for line in tranco.read_text().splitlines()[1 : count + 1]]
    print("(../shared/data absent: synthetic brands)")
    return [f"brand{i:04d}example.com" for i in range(count)]


def certificate_names(issuances: int, brands: list[str], rng: random.Random) -> list[list[str]]:
    """Mostly ordinary names (NRD list if present), 1% lookalikes of the brands."""
    nrd = SHARED / "nrd" / "whoisds_2025-12-01.txt"
    pool = nrd.read_text().split() if nrd.exists() else [f"site{i}.example" for i in range(50000)]
    out: list[list[str]] = []
    for i in range(issuances):
        if i % 100 == 0:
            label, _, suffix = rng.choice(brands).partition(".")
            out.append([f"{label}-login-secure.{suffix}", f"www.{label}-login-secure.{suffix}"])
        else:
            host = rng.choice(pool)
            out.append([host, f"www.{host}"])
    return out


@contextlib.contextmanager
def database_url(kind: str, tmp: Path) -> Iterator[URL]:
    """An empty store: a SQLite file in `tmp` or a private PostgreSQL schema (dropped after)."""
    if kind == "sqlite":
        yield make_url(f"sqlite:///{tmp / 'bench.db'}")
        return
    with private_schema(postgres_url(), "pw_ctbench") as url:
        yield url


async def parse_only(log_list_url: str) -> dict[str, float]:
    rates: dict[str, float] = {}
    async with CTHttpClient() as client:
        for log in (await fetch_log_list(client, log_list_url)).logs:
            reader = reader_for(log, client)
            t0 = time.perf_counter()
            head = await reader.head()
            compact = CompactRange()
            for start in range(0, head.size, 1024):
                for entry in await reader.entries(start, min(start + 1024, head.size) - 1):
                    compact.append(entry.leaf_hash)
                    extract(entry)
            compact.verify(head.size, head.root)
            rates[log.protocol] = head.size / (time.perf_counter() - t0)
    return rates


async def pipeline(database: Database, log_list_url: str) -> dict[str, tuple[float, int]]:
    out: dict[str, tuple[float, int]] = {}
    async with CTHttpClient() as client:
        log_list = await fetch_log_list(client, log_list_url)
        with database.session() as session:
            sync_log_list(session, log_list.logs)
            logs = {row.protocol: row.id for row in session.scalars(select(CtLog))}
        config = CtConfig(backfill=10**9, partial_tile_wait=0, max_batches_per_poll=10**6)
        for protocol, pk in sorted(logs.items()):
            # a fresh ingestor per log: the second log's certificates must not be
            # skipped as already seen in the first
            ingestor = CtIngestor(database, client, config)
            report = await ingestor.poll_log(pk)
            assert report.error is None, report.error
            assert report.verified
            out[protocol] = (report.entries / report.seconds, report.alerts_created)
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--issuances", type=int, default=20000, help="certificates (x2 entries)")
    parser.add_argument("--brands", type=int, default=1000)
    parser.add_argument("--database", choices=["sqlite", "postgresql", "both"], default="both")
    args = parser.parse_args(argv)

    rng = random.Random(7)
    brands = brand_domains(args.brands)
    names = certificate_names(args.issuances, brands, rng)
    with tempfile.TemporaryDirectory() as tmp_dir:
        tmp = Path(tmp_dir)
        (tmp / "names.json").write_text(json.dumps(names))
        script = SERVER.format(root=str(ROOT), names=str(tmp / "names.json"))
        t0 = time.perf_counter()
        server = subprocess.Popen(
            [sys.executable, "-c", script], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
        )
        assert server.stdout is not None
        urls = json.loads(server.stdout.readline())
        print(
            f"emulator (separate process): {2 * args.issuances:,} entries per log, "
            f"built in {time.perf_counter() - t0:.1f}s; {len(brands):,} brands"
        )
        try:
            baseline = asyncio.run(parse_only(urls["log_list"]))
            kinds = ["sqlite", "postgresql"] if args.database == "both" else [args.database]
            print(
                f"{'database':11} {'log':8} {'pipeline':>14} {'parse-only':>14} {'ratio':>6} {'alerts':>7}"
            )
            for kind in kinds:
                with database_url(kind, tmp) as url:
                    upgrade(url)
                    database = Database(url)
                    with database.session() as session:
                        for domain in brands:
                            label = domain.split(".")[0]
                            session.add(
                                Brand(name=domain, domains=[domain], keywords=[label], allow=[])
                            )
                    results = asyncio.run(pipeline(database, urls["log_list"]))
                    for protocol, (rate, alerts) in results.items():
                        base = baseline[protocol]
                        print(
                            f"{kind:11} {protocol:8} {rate:>10,.0f}/s   {base:>10,.0f}/s {rate / base:>6.2f} {alerts:>7}"
                        )
                    with database.session() as session:
                        total = session.scalar(select(func.count()).select_from(Alert))
                    print(f"{'':11} alerts stored: {total}")
                    database.dispose()
        finally:
            server.stdin.close()  # type: ignore[union-attr]
            server.wait(timeout=30)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak RSS of the worker process: {peak:,.0f} MB")


if __name__ == "__main__":
    main()

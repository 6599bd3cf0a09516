"""`phantomwatch dns lookup`: the enrichment of each name as JSON Lines, no database."""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import sys
from collections.abc import Sequence
from typing import Any, TextIO

from service.exits import EXIT_OK, UsageError, run_command, run_standalone
from service.sources.dns.enrich import enrich
from service.sources.dns.errors import DnsError
from service.sources.dns.registration import registrable_of
from service.sources.dns.resolver import DnsClient, ResolverConfig, parse_nameserver


def register_lookup(dns_subparsers: Any) -> None:
    """Add `lookup` to the `phantomwatch dns` subcommand group."""
    p = dns_subparsers.add_parser(
        "lookup",
        help="look names up in DNS and print their enrichment as JSON Lines (no database)",
        description=(
            "Print one JSON object per NAME, in order: addresses, MX, NS, TXT/SPF, DMARC, SOA, "
            'wildcard and parking, with "state" one of resolves, nxdomain, nodata, unknown. '
            "Unknown (SERVFAIL, timeout, ...) is data, not a failure: the exit code is 0."
        ),
    )
    p.add_argument("names", nargs="+", metavar="NAME", help="a domain name (IDNs accepted)")
    p.add_argument(
        "--nameserver",
        action="append",
        metavar="IP[:PORT]",
        help="a resolver to ask, '[IPv6]:PORT' with a port (repeatable; default: the "
        "system's, from /etc/resolv.conf)",
    )
    p.add_argument(
        "--timeout",
        type=float,
        default=2.0,
        metavar="S",
        help="seconds per query attempt (default: 2)",
    )
    p.add_argument(
        "--retries", type=int, default=2, metavar="N", help="extra attempts (default: 2)"
    )
    p.set_defaults(func=cmd_lookup)


def cmd_lookup(args: argparse.Namespace) -> int:
    def body() -> int:
        config = _config(args)
        for name in args.names:
            try:
                registrable_of(name)
            except DnsError as exc:
                raise UsageError(str(exc)) from None
        return asyncio.run(_lookup(config, args.names, sys.stdout))

    return run_command("phantomwatch dns lookup", body)


def _config(args: argparse.Namespace) -> ResolverConfig:
    if not math.isfinite(args.timeout) or args.timeout <= 0:
        raise UsageError("--timeout must be a number of seconds > 0")
    if args.retries < 0:
        raise UsageError("--retries must be >= 0")
    settings = {"timeout": args.timeout, "retries": args.retries}
    if args.nameserver:
        for server in args.nameserver:
            try:
                parse_nameserver(server)
            except ValueError as exc:
                raise UsageError(f"--nameserver {exc}") from None
        return ResolverConfig(list(args.nameserver), timeout=args.timeout, retries=args.retries)
    try:
        return ResolverConfig.from_system(**settings)
    except Exception as exc:  # dnspython raises NoResolverConfiguration and friends
        raise UsageError(f"no system resolver ({exc}); pass --nameserver") from None


async def _lookup(config: ResolverConfig, names: Sequence[str], stdout: TextIO) -> int:
    client = DnsClient(config)
    # All names at once (the client's limits apply), printed in the order given.
    tasks = [asyncio.ensure_future(enrich(client, name)) for name in names]
    for task in tasks:
        enrichment = await task
        stdout.write(json.dumps(enrichment.to_json(), ensure_ascii=False) + "\n")
        stdout.flush()
    return EXIT_OK


def main(argv: Sequence[str] | None = None) -> int:
    """Stand-alone entry point (`python -m service.sources.dns.command ...`)."""
    return run_standalone("phantomwatch dns", register_lookup, argv)


if __name__ == "__main__":
    sys.exit(main())

"""`phantomwatch dns lookup`: the enrichment of each name as JSON Lines, no database."""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import sys
from collections.abc import Sequence
from typing import Any, TextIO

from pydantic import ValidationError

from service.config import Settings, describe_invalid
from service.exits import EXIT_OK, UsageError, run_command, run_standalone
from service.sources.dns.enrich import enrich
from service.sources.dns.errors import DnsError
from service.sources.dns.registration import query_names
from service.sources.dns.resolver import DnsClient, ResolverConfig, parse_nameserver


def register_lookup(dns_subparsers: Any) -> None:
    """Add `lookup` to the `phantomwatch dns` subcommand group."""
    p = dns_subparsers.add_parser(
        "lookup",
        help="look names up in DNS and print their enrichment as JSON Lines (no database)",
        description=(
            "Print one JSON object per NAME, in order: addresses, MX, NS, TXT/SPF, DMARC, SOA, "
            'wildcard and parking, with "state" one of resolves, nxdomain, nodata, unknown. '
            "A NAME may be a URL or an IDN: the normalised ASCII host is looked up. "
            "Resolvers, timeout and retries come from the PHANTOMWATCH_DNS_* settings, as "
            "for the worker; the options override them. "
            "Unknown (SERVFAIL, timeout, ...) is data, not a failure: the exit code is 0. "
            "A NAME that is not a domain (a wildcard, a public suffix) is a usage error: exit 2, "
            "nothing looked up."
        ),
    )
    p.add_argument(
        "names", nargs="+", metavar="NAME", help="a domain name, IDN or URL (its host is used)"
    )
    p.add_argument(
        "--nameserver",
        action="append",
        metavar="IP[:PORT]",
        help="a resolver to ask, '[IPv6]:PORT' with a port (repeatable; default: "
        "PHANTOMWATCH_DNS_NAMESERVERS, else the system's from /etc/resolv.conf)",
    )
    p.add_argument(
        "--timeout",
        type=float,
        metavar="S",
        help="seconds per query attempt (default: PHANTOMWATCH_DNS_TIMEOUT, 2)",
    )
    p.add_argument(
        "--retries",
        type=int,
        metavar="N",
        help="extra attempts after an unknown answer (default: PHANTOMWATCH_DNS_RETRIES, 2)",
    )
    p.set_defaults(func=cmd_lookup)


def cmd_lookup(args: argparse.Namespace) -> int:
    def body() -> int:
        config = _config(args)
        # Every NAME is checked before any lookup: a line missing from the output would
        # shift the lines after it for a script that pairs them with its arguments.
        hosts: list[str] = []
        for name in args.names:
            try:
                hosts.append(query_names(name)[0])
            except DnsError as exc:
                raise UsageError(str(exc)) from None
        return asyncio.run(_lookup(config, hosts, sys.stdout))

    return run_command("phantomwatch dns lookup", body)


def _settings() -> Settings:
    try:
        return Settings()
    except ValidationError as exc:
        raise UsageError(describe_invalid(exc)) from None


def _config(args: argparse.Namespace) -> ResolverConfig:
    """The worker's resolver configuration (`from_settings`), with the options given on top."""
    overrides: dict[str, object] = {}
    if args.timeout is not None:
        if not math.isfinite(args.timeout) or args.timeout <= 0:
            raise UsageError("--timeout must be a number of seconds > 0")
        overrides["dns_timeout"] = args.timeout
    if args.retries is not None:
        if args.retries < 0:
            raise UsageError("--retries must be >= 0")
        overrides["dns_retries"] = args.retries
    if args.nameserver:
        for server in args.nameserver:
            try:
                parse_nameserver(server)
            except ValueError as exc:
                raise UsageError(f"--nameserver {exc}") from None
        overrides["dns_nameservers"] = list(args.nameserver)
    settings = _settings().model_copy(update=overrides)
    try:
        return ResolverConfig.from_settings(settings)
    except Exception as exc:  # dnspython raises NoResolverConfiguration and friends
        if settings.dns_nameservers:
            raise UsageError(f"PHANTOMWATCH_DNS_NAMESERVERS: {exc}") from None
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

"""`phantomwatch ct tail`: stream the names certified in CT logs as JSON Lines, no database."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, TextIO

from service.exits import EXIT_FAILURE, EXIT_OK, UsageError, run_command, run_standalone
from service.sources.ct.entries import extract
from service.sources.ct.errors import CTError, MalformedEntry, VerificationError
from service.sources.ct.http import CTHttpClient
from service.sources.ct.loglist import OFFICIAL_URL, Log, LogList, fetch_log_list, load_log_list
from service.sources.ct.merkle import CompactRange
from service.sources.ct.reader import LogReader, reader_for
from service.sources.ct.tiles import StaticLog, full_tiles_end

BOUNDED_MAX_FAILURES = 5


def register_tail(ct_subparsers: Any) -> None:
    """Add `tail` to the `phantomwatch ct` subcommand group."""
    p = ct_subparsers.add_parser(
        "tail",
        help="stream names from CT logs as JSON Lines (a self-hosted certstream; no database)",
        description=(
            "Print one JSON object per log entry to stdout: "
            '{"log", "index", "timestamp", "entry_type", "names"}. Progress and errors go '
            "to stderr. Without --to, follows the log head until interrupted."
        ),
    )
    p.add_argument(
        "--log-list",
        metavar="FILE|URL",
        default=OFFICIAL_URL,
        help="a v3 log list file or URL (default: Google's published list)",
    )
    p.add_argument(
        "--log",
        action="append",
        metavar="NAME",
        help="a log by description, log ID or unique substring (repeatable; "
        "default: every usable, qualified or readonly log)",
    )
    p.add_argument(
        "--from", dest="start", type=int, metavar="N", help="first index (default: current head)"
    )
    p.add_argument("--to", dest="end", type=int, metavar="M", help="last index, then exit")
    p.add_argument(
        "--poll-interval",
        type=float,
        default=10.0,
        metavar="S",
        help="seconds between head checks once caught up (default: 10)",
    )
    p.add_argument(
        "--batch", type=int, default=256, metavar="N", help="entries per request (default: 256)"
    )
    p.add_argument(
        "--partial-wait",
        type=float,
        default=300.0,
        metavar="S",
        help="seconds a tiled log's partial right-edge tile must stay unfilled before it "
        "is read when following (default: 300)",
    )
    p.set_defaults(func=cmd_tail)


def cmd_tail(args: argparse.Namespace) -> int:
    def body() -> int:
        _validate(args)
        return asyncio.run(_tail(args, sys.stdout, sys.stderr))

    return run_command("phantomwatch ct tail", body)


def _validate(args: argparse.Namespace) -> None:
    if args.start is not None and args.start < 0:
        raise UsageError("--from must be >= 0")
    if args.end is not None and args.end < 0:
        raise UsageError("--to must be >= 0")
    if args.start is not None and args.end is not None and args.end < args.start:
        raise UsageError("--to must not be below --from")
    if args.batch < 1:
        raise UsageError("--batch must be >= 1")
    if args.poll_interval <= 0 or args.partial_wait < 0:
        raise UsageError("--poll-interval must be > 0 and --partial-wait >= 0")


async def _load(source: str, client: CTHttpClient) -> LogList:
    try:
        if source.startswith(("http://", "https://")):
            return await fetch_log_list(client, source)
        return load_log_list(source)
    except CTError as exc:
        raise UsageError(f"log list {source}: {exc}") from None


def _select(log_list: LogList, wanted: Sequence[str] | None) -> list[Log]:
    if not wanted:
        logs = log_list.monitored()
        if not logs:
            raise UsageError("the log list has no usable, qualified or readonly log")
        return logs
    try:
        return [log_list.find(name) for name in wanted]
    except LookupError as exc:
        raise UsageError(str(exc.args[0])) from None


@dataclass
class _Out:
    stdout: TextIO
    stderr: TextIO

    def say(self, message: str) -> None:
        print(f"phantomwatch ct tail: {message}", file=self.stderr, flush=True)


async def _tail(args: argparse.Namespace, stdout: TextIO, stderr: TextIO) -> int:
    out = _Out(stdout, stderr)
    async with CTHttpClient() as client:
        logs = _select(await _load(args.log_list, client), args.log)
        out.say(f"tailing {len(logs)} log(s)")
        results = await asyncio.gather(
            *(_follow(reader_for(log, client), args, out) for log in logs)
        )
    return EXIT_OK if all(results) else EXIT_FAILURE


async def _follow(reader: LogReader, args: argparse.Namespace, out: _Out) -> bool:
    """Read one log from --from (or its head) to --to (or forever); False on failure."""
    next_index: int | None = args.start
    end: int | None = args.end
    # Reading from 0 lets us prove the entries are exactly the ones the log signed.
    compact = CompactRange() if next_index == 0 else None
    partial_since: float | None = None
    failures = 0
    while end is None or next_index is None or next_index <= end:
        try:
            head = await reader.head()
            if next_index is None:
                next_index = head.size
                out.say(f"{reader.name}: starting at the head, index {next_index}")
            limit = head.size if end is None else min(end + 1, head.size)
            if end is None and isinstance(reader, StaticLog):
                settled = max(full_tiles_end(head.size), next_index)
                if limit > settled:
                    partial_since = partial_since or time.monotonic()
                    if time.monotonic() - partial_since < args.partial_wait:
                        limit = settled
                else:
                    partial_since = None
            while next_index < limit:
                last = min(next_index + args.batch, limit) - 1
                batch = await reader.entries(next_index, last)
                _emit(reader.name, batch, compact, out)
                next_index = last + 1
            if compact is not None and compact.size == head.size:
                compact.verify(head.size, head.root)
            failures = 0
        except VerificationError as exc:
            out.say(f"{reader.name}: VERIFICATION FAILED, stopping this log: {exc}")
            return False
        except CTError as exc:
            failures += 1
            out.say(f"{reader.name}: {type(exc).__name__}: {exc}")
            if end is not None and failures >= BOUNDED_MAX_FAILURES:
                out.say(f"{reader.name}: giving up after {failures} failures")
                return False
        if end is not None and next_index is not None and next_index > end:
            break
        await asyncio.sleep(args.poll_interval)
    return True


def _emit(log: str, batch: Sequence[Any], compact: CompactRange | None, out: _Out) -> None:
    lines = []
    for entry in batch:
        if compact is not None:
            compact.append(entry.leaf_hash)
        try:
            names = extract(entry).names
        except MalformedEntry as exc:
            out.say(f"{log}: skipping malformed entry {exc.index}: {exc.reason}")
            continue
        record = {
            "log": log,
            "index": entry.index,
            "timestamp": entry.timestamp_ms,
            "entry_type": entry.entry_type,
            "names": names,
        }
        lines.append(json.dumps(record, ensure_ascii=False))
    if lines:
        out.stdout.write("\n".join(lines) + "\n")
        out.stdout.flush()


def main(argv: Sequence[str] | None = None) -> int:
    """Stand-alone entry point (`python -m service.sources.ct.command ...`)."""
    return run_standalone("phantomwatch ct", register_tail, argv)


if __name__ == "__main__":
    sys.exit(main())

"""The protocol-neutral seam: `LogReader` and `reader_for(log, client)`."""

from __future__ import annotations

from typing import Protocol

from service.sources.ct.entries import LogEntry
from service.sources.ct.http import CTHttpClient
from service.sources.ct.loglist import Log
from service.sources.ct.rfc6962 import Rfc6962Log
from service.sources.ct.sth import TreeHead
from service.sources.ct.tiles import StaticLog


class LogReader(Protocol):
    """What a pipeline needs from a log, whatever its protocol."""

    name: str
    last_head: TreeHead | None

    async def head(self) -> TreeHead:
        """The latest verified tree head; VerificationError if it shrank or forked."""
        ...

    async def entries(self, start: int, end: int) -> list[LogEntry]:
        """Entries [start, end] inclusive, all of them, in order."""
        ...


def reader_for(log: Log, client: CTHttpClient, *, last_head: TreeHead | None = None) -> LogReader:
    """The reader for a log of the list, sharing `client` (and its concurrency caps)."""
    if log.protocol == "static":
        return StaticLog(
            log.url, log.key, client, origin=log.origin, name=log.name, last_head=last_head
        )
    return Rfc6962Log(log.url, log.key, client, name=log.name, last_head=last_head)

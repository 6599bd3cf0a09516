"""The exception tree of the DNS layer: bad zone files and feeds; lookups never raise."""

from __future__ import annotations


class DnsError(Exception):
    """Base of every error raised by `service.sources.dns`.

    Resolution failures are not exceptions: `DnsClient.query` returns an
    `Answer` in state "unknown" with a detail, because one unanswered name
    must not stop a batch.
    """


class ZoneFileError(DnsError):
    """A master (zone) file cannot be read: syntax error, refused $INCLUDE, unreadable file.

    `line` is the 1-based line where the offending token starts, when known.
    """

    def __init__(self, message: str, *, line: int | None = None) -> None:
        super().__init__(f"line {line}: {message}" if line is not None else message)
        self.line = line
        self.reason = message


class FeedError(DnsError):
    """A newly-registered-domain feed cannot be fetched or read as a whole.

    Single bad lines are not errors: they are reported as `BadLine` and skipped.
    """

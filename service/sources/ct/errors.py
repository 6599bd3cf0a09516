"""The exception tree of the CT layer: what can go wrong when reading a log, by who is to blame."""

from __future__ import annotations


class CTError(Exception):
    """Base of every error raised by `service.sources.ct`."""


class LogUnavailable(CTError):
    """The log did not answer usefully after retries (network error, 5xx, 429).

    Transient by nature: the caller should try again later, no earlier than
    `retry_after` seconds when the log said so.
    """

    def __init__(
        self, message: str, *, retry_after: float | None = None, status: int | None = None
    ) -> None:
        super().__init__(message)
        self.retry_after = retry_after
        self.status = status


class BadResponse(CTError):
    """The log answered, but the answer is malformed or breaks the protocol.

    Examples: invalid JSON or tile, wrong hash sizes, zero entries or more entries
    than asked, an unexpected HTTP status (404 for a tile that must exist), a body
    over the size cap.
    """

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class MalformedEntry(BadResponse):
    """One log entry cannot be parsed; record `index` and `reason` and go on with the next."""

    def __init__(self, index: int, reason: str) -> None:
        super().__init__(f"entry {index}: {reason}")
        self.index = index
        self.reason = reason


class VerificationError(CTError):
    """The log's cryptographic claims do not hold.

    A bad STH or checkpoint signature, a Merkle root that does not match the
    entries read, a tree that shrank, a failed consistency or inclusion proof.
    Unlike the other errors this is evidence of misbehaviour: alert, do not retry blindly.
    """


class LogListError(CTError):
    """A log list (Chrome v3 JSON) is unreadable or has no usable content."""

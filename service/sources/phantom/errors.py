"""The exception tree of the phantom probe: what goes wrong asking an LLM, by who is to blame."""

from __future__ import annotations


class PhantomError(Exception):
    """Base of every error raised by `service.sources.phantom`."""


class LlmUnavailable(PhantomError):
    """The endpoint did not answer usefully after retries (network error, timeout, 5xx, 429).

    Transient by nature: the caller should try again later, no earlier than
    `retry_after` seconds when the server said so.
    """

    def __init__(
        self, message: str, *, retry_after: float | None = None, status: int | None = None
    ) -> None:
        super().__init__(message)
        self.retry_after = retry_after
        self.status = status


class LlmBadResponse(PhantomError):
    """The endpoint answered, but not with a usable chat completion.

    Examples: invalid JSON, no `choices`, a choice without text, a body over the
    size cap, an unexpected HTTP status (400, 401, 404, a redirect). Retrying the
    same request will not help; fix the endpoint settings or skip the prompt.
    """

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class LlmConfigError(PhantomError):
    """The endpoint settings are unusable (e.g. the API-key variable is unset); nothing was sent."""


class BudgetExhausted(PhantomError):
    """The per-run request budget is spent; no further request was sent.

    `partial` holds the answers a multi-request completion had already collected
    (servers without `n` support need one request per sample), so they are not lost.
    """

    def __init__(self, message: str, *, partial: list[str] | None = None) -> None:
        super().__init__(message)
        self.partial: list[str] = list(partial or [])

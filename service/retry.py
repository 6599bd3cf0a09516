"""Retry helpers shared by every outbound client: Retry-After parsing and full-jitter backoff."""

from __future__ import annotations

import email.utils
import time
from collections.abc import Callable
from datetime import UTC


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or HTTP-date); None if bad."""
    if value is None:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


def full_jitter(attempt: int, initial: float, maximum: float, rng: Callable[[], float]) -> float:
    """Uniform in [0, min(maximum, initial * 2**attempt)]: retries of many clients spread out."""
    return rng() * min(maximum, initial * (1 << attempt))

"""Opaque keyset cursors: a page resumes after the last (sort value, id) it returned."""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

from service.errors import BadRequest


def encode_cursor(*values: Any) -> str:
    raw = json.dumps(list(values), separators=(",", ":"), default=str).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str, arity: int) -> list[Any]:
    """Decode a cursor made by encode_cursor; a tampered or foreign one is a 400."""
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        values = json.loads(base64.urlsafe_b64decode(padded.encode()))
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise BadRequest("invalid cursor; pass back the next_cursor of a previous page") from None
    if not isinstance(values, list) or len(values) != arity:
        raise BadRequest("invalid cursor; it belongs to another list or sort order")
    return values

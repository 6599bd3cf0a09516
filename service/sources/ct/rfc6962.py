"""Reader for RFC 6962 logs: get-sth (verified), get-entries (short pages), consistency proofs."""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

from service.sources.ct.entries import LogEntry, entries_from_json
from service.sources.ct.errors import BadResponse
from service.sources.ct.http import CTHttpClient
from service.sources.ct.merkle import verify_consistency
from service.sources.ct.sth import LogKey, TreeHead, check_growth, verify_sth


def _json(body: bytes, what: str) -> Any:
    try:
        return json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BadResponse(f"{what}: not JSON ({exc})") from None


def _hashes(values: Any, what: str) -> list[bytes]:
    if not isinstance(values, list):
        raise BadResponse(f"{what}: not a list of hashes")
    out = []
    for value in values:
        try:
            h = base64.b64decode(value, validate=True)
        except (binascii.Error, TypeError, ValueError):
            raise BadResponse(f"{what}: a hash is not base64") from None
        if len(h) != 32:
            raise BadResponse(f"{what}: a hash is not 32 bytes")
        out.append(h)
    return out


class Rfc6962Log:
    """An RFC 6962 log at `url` (ending in `/`), signed with `key` (DER SPKI).

    `last_head` is the last verified tree head the caller stored: `head()`
    refuses a tree that shrank and checks a consistency proof from it.
    """

    def __init__(
        self,
        url: str,
        key: bytes,
        client: CTHttpClient,
        *,
        name: str | None = None,
        last_head: TreeHead | None = None,
        check_consistency: bool = True,
    ) -> None:
        self.url = url if url.endswith("/") else url + "/"
        self.key = LogKey(key)
        self.client = client
        self.name = name or self.url
        self.last_head = last_head
        self.check_consistency = check_consistency

    async def _get(self, path: str, params: dict[str, str | int] | None = None) -> Any:
        body = await self.client.get(self.url + path, log=self.name, params=params)
        return _json(body, f"{self.name} {path}")

    async def get_sth(self) -> TreeHead:
        """The current tree head, signature verified (no growth check)."""
        try:
            return verify_sth(await self._get("ct/v1/get-sth"), self.key)
        except BadResponse as exc:
            raise BadResponse(f"{self.name}: {exc}", status=exc.status) from None

    async def get_consistency(self, first: int, second: int) -> list[bytes]:
        body = await self._get("ct/v1/get-sth-consistency", {"first": first, "second": second})
        if not isinstance(body, dict):
            raise BadResponse(f"{self.name}: consistency proof is not an object")
        return _hashes(body.get("consistency"), f"{self.name} consistency proof")

    async def get_proof_by_hash(self, leaf_hash: bytes, tree_size: int) -> tuple[int, list[bytes]]:
        params: dict[str, str | int] = {
            "hash": base64.b64encode(leaf_hash).decode(),
            "tree_size": tree_size,
        }
        body = await self._get("ct/v1/get-proof-by-hash", params)
        if not isinstance(body, dict) or not isinstance(body.get("leaf_index"), int):
            raise BadResponse(f"{self.name}: inclusion proof has no leaf_index")
        return body["leaf_index"], _hashes(body.get("audit_path"), f"{self.name} audit path")

    async def get_entries(self, start: int, end: int) -> list[LogEntry]:
        """Entries [start, end] inclusive, following short pages until all are read."""
        if not 0 <= start <= end:
            raise ValueError(f"bad entry range [{start}, {end}]")
        out: list[LogEntry] = []
        next_index = start
        while next_index <= end:
            body = await self._get("ct/v1/get-entries", {"start": next_index, "end": end})
            page = entries_from_json(next_index, body)
            if not page:
                raise BadResponse(f"{self.name}: get-entries returned no entry at {next_index}")
            if len(page) > end - next_index + 1:
                raise BadResponse(
                    f"{self.name}: asked for {end - next_index + 1} entries, got {len(page)}"
                )
            out.extend(page)
            next_index += len(page)
        return out

    async def head(self) -> TreeHead:
        """The verified tree head, checked against `last_head`, which it then replaces."""
        new = await self.get_sth()
        old = self.last_head
        check_growth(old, new)
        if old is not None and self.check_consistency and 0 < old.size < new.size:
            proof = await self.get_consistency(old.size, new.size)
            verify_consistency(old.size, new.size, old.root, new.root, proof)
        self.last_head = new
        return new

    async def entries(self, start: int, end: int) -> list[LogEntry]:
        return await self.get_entries(start, end)

"""Reader for static-ct-api (tiled) logs: checkpoint, tile paths, data and hash tiles."""

from __future__ import annotations

import zlib

from service.sources.ct import checkpoint as signed_note
from service.sources.ct.entries import LogEntry, parse_data_tile
from service.sources.ct.errors import BadResponse
from service.sources.ct.http import CTHttpClient
from service.sources.ct.sth import LogKey, TreeHead, check_growth

TILE_WIDTH = 256
HASH_SIZE = 32


def tile_index_path(n: int) -> str:
    """N in groups of three digits, all but the last prefixed by `x`: 1234067 -> x001/x234/067."""
    if n < 0:
        raise ValueError("tile index must be non-negative")
    groups = []
    while True:
        groups.append(n % 1000)
        n //= 1000
        if n == 0:
            break
    groups.reverse()
    return "/".join([f"x{g:03d}" for g in groups[:-1]] + [f"{groups[-1]:03d}"])


def tile_path(level: int | str, n: int, width: int = TILE_WIDTH) -> str:
    """`tile/<L>/<N>` or `tile/data/<N>`, with `.p/<W>` for a partial tile."""
    if not 1 <= width <= TILE_WIDTH:
        raise ValueError("tile width must be 1..256")
    path = f"tile/{level}/{tile_index_path(n)}"
    return path if width == TILE_WIDTH else f"{path}.p/{width}"


def full_tiles_end(size: int) -> int:
    """The index where the right-edge partial tile starts (entries before it are in full tiles).

    The pipeline should read up to here and leave the partial tile alone until
    it fills, or until it has stayed partial for a few minutes: partial tiles
    are short-lived and re-reading them as they grow wastes the log's bandwidth.
    """
    return size - size % TILE_WIDTH


def gunzip_if_needed(data: bytes, cap: int) -> bytes:
    """Undo gzip that arrived without Content-Encoding (static buckets serve `.gz` as is).

    A data tile starts with a u64 timestamp, whose first byte is 0 for ~2
    million years, so the gzip magic cannot be mistaken for tile content.
    """
    if data[:2] != b"\x1f\x8b":
        return data
    d = zlib.decompressobj(wbits=31)
    try:
        out = d.decompress(data, cap + 1)
    except zlib.error as exc:
        raise BadResponse(f"bad gzip tile: {exc}") from None
    if len(out) > cap or d.unconsumed_tail:
        raise BadResponse(f"tile over the {cap}-byte cap once decompressed")
    return out


def parse_hash_tile(data: bytes, width: int) -> list[bytes]:
    if len(data) != width * HASH_SIZE:
        raise BadResponse(f"hash tile of width {width} has {len(data)} bytes")
    return [data[i : i + HASH_SIZE] for i in range(0, len(data), HASH_SIZE)]


class StaticLog:
    """A static-ct-api log read at `monitoring_url`, signing checkpoints as `origin` with `key`."""

    def __init__(
        self,
        monitoring_url: str,
        key: bytes,
        client: CTHttpClient,
        *,
        origin: str,
        name: str | None = None,
        last_head: TreeHead | None = None,
    ) -> None:
        self.url = monitoring_url if monitoring_url.endswith("/") else monitoring_url + "/"
        self.key = LogKey(key)
        self.client = client
        self.origin = origin
        self.name = name or origin
        self.last_head = last_head

    async def _fetch(self, path: str) -> bytes:
        body = await self.client.get(self.url + path, log=self.name)
        return gunzip_if_needed(body, self.client.config.max_response_bytes)

    async def checkpoint(self) -> TreeHead:
        """The current checkpoint's tree head, signature verified (no growth check)."""
        try:
            return signed_note.verify(await self._fetch("checkpoint"), self.origin, self.key)
        except BadResponse as exc:
            raise BadResponse(f"{self.name}: {exc}", status=exc.status) from None

    async def head(self) -> TreeHead:
        """The verified tree head, checked against `last_head`, which it then replaces."""
        new = await self.checkpoint()
        check_growth(self.last_head, new)
        self.last_head = new
        return new

    async def hash_tile(self, level: int, n: int, width: int = TILE_WIDTH) -> list[bytes]:
        return parse_hash_tile(await self._fetch(tile_path(level, n, width)), width)

    async def data_tile(self, n: int, width: int = TILE_WIDTH) -> list[LogEntry]:
        """The entries of data tile `n`; a partial one falls back to the full tile on 404."""
        try:
            data = await self._fetch(tile_path("data", n, width))
        except BadResponse as exc:
            # The partial tile is deleted once the full one exists.
            if exc.status != 404 or width == TILE_WIDTH:
                raise
            data = await self._fetch(tile_path("data", n))
            width = TILE_WIDTH
        try:
            return parse_data_tile(n * TILE_WIDTH, data, width)
        except BadResponse as exc:
            raise BadResponse(f"{self.name}: {exc}") from None

    async def get_entries(self, start: int, end: int) -> list[LogEntry]:
        """Entries [start, end] inclusive; the partial tile is read only if the range reaches it."""
        if not 0 <= start <= end:
            raise ValueError(f"bad entry range [{start}, {end}]")
        if self.last_head is None or end >= self.last_head.size:
            await self.head()
        assert self.last_head is not None
        size = self.last_head.size
        if end >= size:
            raise ValueError(f"{self.name}: entry {end} is beyond the tree size {size}")
        out: list[LogEntry] = []
        for n in range(start // TILE_WIDTH, end // TILE_WIDTH + 1):
            width = min(TILE_WIDTH, size - n * TILE_WIDTH)
            tile = await self.data_tile(n, width)
            lo = max(start - n * TILE_WIDTH, 0)
            hi = min(end - n * TILE_WIDTH, len(tile) - 1)
            out.extend(tile[lo : hi + 1])
        return out

    async def entries(self, start: int, end: int) -> list[LogEntry]:
        return await self.get_entries(start, end)

"""CT pipeline: one batch = fetch entries -> names -> score -> alerts + cursor, in one transaction.

A crash at any point loses nothing and duplicates nothing: the cursor, the compact
range and the alerts of a batch are committed together, and alerts are unique per
(brand, domain). A log whose entries do not hash to its signed root, or whose tree
shrinks or forks, is marked unhealthy and no longer advances.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy import update

from service.alerts.models import AlertSource
from service.alerts.service import record_many
from service.ctlogs import service as logs
from service.ctlogs.models import CtLog, CtMalformedEntry
from service.db import Database, utcnow
from service.ingest.scoring import BrandIndexCache
from service.sources.ct.entries import LogEntry, extract
from service.sources.ct.errors import CTError, MalformedEntry, VerificationError
from service.sources.ct.http import CTHttpClient
from service.sources.ct.loglist import Log
from service.sources.ct.merkle import CompactRange, node_hash
from service.sources.ct.reader import LogReader, reader_for
from service.sources.ct.rfc6962 import Rfc6962Log
from service.sources.ct.sth import TreeHead
from service.sources.ct.tiles import TILE_WIDTH, StaticLog

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class CtConfig:
    """Pipeline knobs (from settings)."""

    batch_size: int = 1024
    backfill: int = 0
    max_batches_per_poll: int = 50
    # A partial tile at the right edge is read only once it is this old (seconds).
    partial_tile_wait: float = 300.0
    dedup_cache_size: int = 200_000


@dataclass
class PollReport:
    """What one poll of one log did."""

    log: str
    batches: int = 0
    entries: int = 0
    names: int = 0
    alerts_created: int = 0
    alerts_updated: int = 0
    malformed: int = 0
    next_index: int = 0
    head_size: int | None = None
    verified: bool = False
    error: str | None = None
    seconds: float = 0.0
    stopped_unhealthy: bool = False
    errors: list[str] = field(default_factory=list)


class DedupCache:
    """Certificates recently committed (a precert and its final certificate share a key).

    Keys are added only after their batch committed, so a failed batch never
    hides a certificate from its retry or from another log.
    """

    def __init__(self, size: int) -> None:
        self.size = size
        self._seen: OrderedDict[bytes, None] = OrderedDict()
        self._lock = threading.Lock()

    def __contains__(self, key: bytes) -> bool:
        with self._lock:
            return key in self._seen

    def add(self, keys: Sequence[bytes]) -> None:
        with self._lock:
            for key in keys:
                self._seen[key] = None
                self._seen.move_to_end(key)
            while len(self._seen) > self.size:
                self._seen.popitem(last=False)


async def compact_range_at(reader: LogReader, size: int, head: TreeHead) -> CompactRange:
    """The compact range of entries [0, size) fetched from the log, to start mid-log."""
    if size == 0:
        return CompactRange()
    if isinstance(reader, Rfc6962Log):
        # The audit path of the last leaf of a tree of `size` leaves is exactly
        # the compact range of the leaves before it, smallest subtree first.
        (last,) = await reader.entries(size - 1, size - 1)
        index, path = await reader.get_proof_by_hash(last.leaf_hash, size)
        if index != size - 1:
            raise VerificationError(f"inclusion proof for entry {size - 1} names {index}")
        cr = CompactRange(size - 1, list(reversed(path)))
        cr.append(last.leaf_hash)
        return cr
    if isinstance(reader, StaticLog):
        return await _compact_range_from_tiles(reader, size, head)
    raise TypeError(f"cannot start {type(reader).__name__} mid-log")


async def _compact_range_from_tiles(reader: StaticLog, size: int, head: TreeHead) -> CompactRange:
    # Each set bit of `size` is one complete subtree; its root is a node at tree
    # level h, stored in hash tile level h // 8, or computed from 2**(h % 8) nodes there.
    hashes: list[bytes] = []
    start = 0
    for height in range(size.bit_length() - 1, -1, -1):
        if not size >> height & 1:
            continue
        tile_level, rest = divmod(height, 8)
        first = start >> (tile_level * 8)
        count = 1 << rest
        nodes_at_level = head.size >> (tile_level * 8)
        nodes: list[bytes] = []
        for n in range(first // TILE_WIDTH, (first + count - 1) // TILE_WIDTH + 1):
            width = min(TILE_WIDTH, nodes_at_level - n * TILE_WIDTH)
            tile = await reader.hash_tile(tile_level, n, width)
            lo = max(first - n * TILE_WIDTH, 0)
            hi = min(first + count - n * TILE_WIDTH, width)
            nodes.extend(tile[lo:hi])
        hashes.append(_subtree_root(nodes))
        start += 1 << height
    return CompactRange(size, hashes)


def _subtree_root(nodes: list[bytes]) -> bytes:
    while len(nodes) > 1:
        nodes = [node_hash(nodes[i], nodes[i + 1]) for i in range(0, len(nodes), 2)]
    return nodes[0]


@dataclass(frozen=True)
class _Snapshot:
    log: Log
    next_index: int
    compact_range: CompactRange | None
    latest_head: TreeHead | None


@dataclass
class _Batch:
    start: int
    end: int  # exclusive
    compact_range: CompactRange
    names_by_entry: list[tuple[LogEntry, list[str]]]
    dedup_keys: list[bytes]
    malformed: list[tuple[int, str]]
    verified_head: TreeHead | None


class CtIngestor:
    """Polls CT logs into alerts; one instance per worker process."""

    def __init__(
        self,
        database: Database,
        client: CTHttpClient,
        config: CtConfig | None = None,
        brands: BrandIndexCache | None = None,
        dedup: DedupCache | None = None,
    ) -> None:
        self.database = database
        self.client = client
        self.config = config or CtConfig()
        self.brands = brands or BrandIndexCache()
        self.dedup = dedup or DedupCache(self.config.dedup_cache_size)

    async def poll_all(self) -> list[PollReport]:
        """Poll every enabled, healthy log concurrently (the HTTP client caps concurrency)."""
        rows = await asyncio.to_thread(self._enabled_logs)
        return list(await asyncio.gather(*(self.poll_log(pk) for pk in rows)))

    def _enabled_logs(self) -> list[int]:
        with self.database.session() as session:
            return [
                row.id
                for row in logs.list_logs(session)
                if row.enabled
                and row.healthy
                and row.list_state in ("usable", "qualified", "readonly")
            ]

    async def poll_log(self, pk: int, max_batches: int | None = None) -> PollReport:
        """Read a log from its cursor towards its head, batch by batch."""
        started = time.perf_counter()
        snap = await asyncio.to_thread(self._snapshot, pk)
        name = snap.log.name
        report = PollReport(log=name, next_index=snap.next_index)
        reader = reader_for(snap.log, self.client, last_head=snap.latest_head)
        try:
            head = await reader.head()
            report.head_size = head.size
            cursor, cr = snap.next_index, snap.compact_range
            if cr is None:
                cursor = max(0, head.size - self.config.backfill)
                if isinstance(reader, StaticLog):
                    cursor -= cursor % TILE_WIDTH
                cr = await compact_range_at(reader, cursor, head)
                if cursor == head.size:
                    cr.verify(head.size, head.root)
                await asyncio.to_thread(self._start, pk, cursor, cr, head)
            await asyncio.to_thread(self._save_head, pk, head)
            limit = max_batches or self.config.max_batches_per_poll
            # The next batch is fetched while the current one is parsed, scored
            # and committed: network time hides behind CPU time.
            fetch = self._fetch(reader, cursor, head)
            try:
                for done in range(1, limit + 1):
                    if fetch is None:
                        break
                    entries = await fetch
                    after = cursor + len(entries)
                    fetch = self._fetch(reader, after, head) if done < limit else None
                    batch = await asyncio.to_thread(self._process, entries, cursor, cr, head)
                    created, updated = await asyncio.to_thread(self._commit, pk, name, batch)
                    self.dedup.add(batch.dedup_keys)
                    report.batches += 1
                    report.entries += len(entries)
                    report.names += sum(len(n) for _, n in batch.names_by_entry)
                    report.malformed += len(batch.malformed)
                    report.alerts_created += created
                    report.alerts_updated += updated
                    report.verified = report.verified or batch.verified_head is not None
                    cursor, cr = batch.end, batch.compact_range
            finally:
                if fetch is not None and not fetch.done():
                    fetch.cancel()
                elif fetch is not None and not fetch.cancelled():
                    fetch.exception()  # a prefetch failed after we stopped: mark it seen
            report.next_index = cursor
            if isinstance(reader, StaticLog) and cursor < head.size:
                report.verified |= await self._verify_with_partial_tile(pk, reader, cr, head)
            if report.entries:
                rate = report.entries / (time.perf_counter() - started)
                await asyncio.to_thread(self._save_rate, pk, rate)
        except VerificationError as exc:
            report.error = f"verification failed: {exc}"
            report.stopped_unhealthy = True
            log.error("CT log %s is unhealthy: %s", name, exc)
            await asyncio.to_thread(self._unhealthy, pk, str(exc))
        except CTError as exc:
            report.error = str(exc)
            log.warning("CT log %s: %s", name, exc)
            await asyncio.to_thread(self._error, pk, str(exc))
        except _CursorMoved:
            report.error = "another worker advanced this log; skipped"
        except Exception as exc:  # a bug or the database: this log waits, the others go on
            log.exception("CT log %s: unexpected error", name)
            report.error = f"unexpected error: {exc}"
            await asyncio.to_thread(self._error, pk, report.error)
        report.seconds = time.perf_counter() - started
        return report

    async def _verify_with_partial_tile(
        self, pk: int, reader: StaticLog, cr: CompactRange, head: TreeHead
    ) -> bool:
        """Check a tiled log's signed head while its right-edge tile is still filling.

        The entries of the partial tile are left for later, but their leaf hashes
        (one small hash tile) complete the tree: everything read so far must hash,
        with them, to the signed root. A busy log's head is almost never at a tile
        boundary, so without this its reads would go unverified for as long as it grows.
        """
        width = head.size - cr.size
        if not 0 < width < TILE_WIDTH or cr.size % TILE_WIDTH:
            return False
        leaves = await reader.hash_tile(0, cr.size // TILE_WIDTH, width)
        full = cr.copy()
        full.extend(leaves)
        full.verify(head.size, head.root)  # VerificationError: the log lied
        await asyncio.to_thread(self._save_verified, pk, head)
        return True

    def _save_verified(self, pk: int, head: TreeHead) -> None:
        with self.database.session() as session:
            session.execute(
                update(CtLog).where(CtLog.id == pk).values(verified_head=head.to_json())
            )

    def _fetch(
        self, reader: LogReader, cursor: int, head: TreeHead
    ) -> asyncio.Task[list[LogEntry]] | None:
        """Start fetching the batch at `cursor`, or None when there is nothing to read yet."""
        end = self._batch_end(reader, cursor, head)
        if end <= cursor:
            return None
        return asyncio.create_task(reader.entries(cursor, end - 1))

    def _batch_end(self, reader: LogReader, cursor: int, head: TreeHead) -> int:
        end = min(cursor + self.config.batch_size, head.size)
        if isinstance(reader, StaticLog):
            full = head.size - head.size % TILE_WIDTH
            age = time.time() - head.timestamp / 1000
            if end > full and age < self.config.partial_tile_wait:
                # Leave the growing partial tile for later; read it once it is full.
                end = max(cursor, full)
            elif end > cursor and end // TILE_WIDTH > cursor // TILE_WIDTH:
                # Align batch ends to tiles so no tile is fetched twice.
                end = max(end - end % TILE_WIDTH, min(cursor + TILE_WIDTH, head.size))
        return end

    # --- the CPU part: parse, deduplicate, verify (runs in a worker thread) -----------
    def _process(
        self, entries: Sequence[LogEntry], start: int, cr: CompactRange, head: TreeHead
    ) -> _Batch:
        cr = cr.copy()
        names: list[tuple[LogEntry, list[str]]] = []
        keys: list[bytes] = []
        malformed: list[tuple[int, str]] = []
        for entry in entries:
            cr.append(entry.leaf_hash)
            try:
                extracted = extract(entry)
            except MalformedEntry as exc:
                malformed.append((entry.index, str(exc)))
                continue
            key = extracted.dedup_key
            if extracted.names and key not in self.dedup and key not in keys:
                names.append((entry, extracted.names))
                keys.append(key)
        verified = None
        if cr.size == head.size:
            cr.verify(head.size, head.root)
            verified = head
        return _Batch(start, start + len(entries), cr, names, keys, malformed, verified)

    # --- the database part --------------------------------------------------------------
    def _snapshot(self, pk: int) -> _Snapshot:
        with self.database.session() as session:
            row = logs.get_log(session, pk)
            stored = row.compact_range
            return _Snapshot(
                log=logs.to_log(row),
                next_index=row.next_index,
                compact_range=None if stored is None else CompactRange.from_json(stored),
                latest_head=logs.head_of(row.latest_head),
            )

    def _start(self, pk: int, cursor: int, cr: CompactRange, head: TreeHead) -> None:
        with self.database.session() as session:
            values: dict[str, object] = {"next_index": cursor, "compact_range": cr.to_json()}
            if cursor == head.size:
                values["verified_head"] = head.to_json()
            session.execute(
                update(CtLog).where(CtLog.id == pk, CtLog.compact_range.is_(None)).values(**values)
            )

    def _save_head(self, pk: int, head: TreeHead) -> None:
        with self.database.session() as session:
            session.execute(update(CtLog).where(CtLog.id == pk).values(latest_head=head.to_json()))

    def _commit(self, pk: int, log_name: str, batch: _Batch) -> tuple[int, int]:
        created = updated = 0
        # Score before the write transaction opens: it should hold locks for writes only.
        with self.database.session() as session:
            brand_set = self.brands.get(session)
        evidences = []
        for entry, names in batch.names_by_entry:
            seen_at = datetime.fromtimestamp(entry.timestamp_ms / 1000, UTC)
            context = {"log": log_name, "index": entry.index, "entry_type": entry.entry_type}
            evidences += brand_set.evidence(names, AlertSource.CT, seen_at, context)
        with self.database.session() as session:
            for _, was_created in record_many(session, evidences):
                created += was_created
                updated += not was_created
            for index, reason in batch.malformed:
                session.add(CtMalformedEntry(log_id=pk, entry_index=index, reason=reason))
            values: dict[str, object] = {
                "next_index": batch.end,
                "compact_range": batch.compact_range.to_json(),
                "entries_processed": CtLog.entries_processed + (batch.end - batch.start),
                "names_scored": CtLog.names_scored + sum(len(n) for _, n in batch.names_by_entry),
                "malformed_entries": CtLog.malformed_entries + len(batch.malformed),
                "last_success_at": utcnow(),
                "last_error": None,
            }
            if batch.verified_head is not None:
                values["verified_head"] = batch.verified_head.to_json()
            # Compare-and-set on the cursor: if another worker moved it, this batch
            # is rolled back whole instead of being recorded twice.
            moved = session.execute(
                update(CtLog)
                .where(CtLog.id == pk, CtLog.next_index == batch.start, CtLog.healthy.is_(True))
                .values(**values)
            )
            if moved.rowcount != 1:  # type: ignore[attr-defined]
                raise _CursorMoved
        return created, updated

    def _save_rate(self, pk: int, rate: float) -> None:
        with self.database.session() as session:
            session.execute(update(CtLog).where(CtLog.id == pk).values(entries_per_second=rate))

    def _unhealthy(self, pk: int, reason: str) -> None:
        with self.database.session() as session:
            logs.mark_unhealthy(session, pk, reason)

    def _error(self, pk: int, message: str) -> None:
        with self.database.session() as session:
            logs.record_error(session, pk, message)


class _CursorMoved(Exception):
    """The log's cursor changed under this batch."""

"""Feed ingestion: score every name of a feed once, resumably, and record the alerts.

A feed's content is identified by its SHA-256: content already processed is skipped,
and a crash mid-file resumes after the last committed batch (the position is stored
in the same transaction as that batch's alerts).
"""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures import Future
from dataclasses import dataclass
from datetime import datetime
from itertools import chain, islice

from sqlalchemy import select

from service.alerts.models import AlertSource
from service.alerts.service import Evidence, record_many
from service.db import Database, utcnow
from service.feeds.models import FeedCursor
from service.ingest.scoring import BrandIndexCache, score_inherited, scoring_processes

log = logging.getLogger(__name__)


@dataclass
class FeedReport:
    feed: str
    skipped: bool = False
    names: int = 0
    resumed_at: int = 0
    alerts_created: int = 0
    alerts_updated: int = 0
    seconds: float = 0.0

    @property
    def names_per_second(self) -> float:
        return self.names / self.seconds if self.seconds else 0.0


SOURCE = AlertSource.FEED


def _score(batch: list[str], when: datetime, context: dict[str, object]) -> list[Evidence]:
    return score_inherited(batch, SOURCE, when, context)


def _batches(names: Iterable[str], size: int) -> Iterator[list[str]]:
    it = iter(names)
    while batch := list(islice(it, size)):
        yield batch


def _cursor(database: Database, name: str, kind: str) -> FeedCursor:
    with database.session() as session:
        cursor = session.scalar(select(FeedCursor).where(FeedCursor.name == name))
        if cursor is None:
            cursor = FeedCursor(name=name, kind=kind, position=0)
            session.add(cursor)
            session.flush()
        session.expunge(cursor)
        return cursor


def already_processed(database: Database, name: str, kind: str, digest: str) -> bool:
    return _cursor(database, name, kind).last_digest == digest


def ingest(
    database: Database,
    name: str,
    kind: str,
    digest: str,
    names: Iterable[str],
    *,
    brands: BrandIndexCache | None = None,
    batch_size: int = 10000,
    seen_at: datetime | None = None,
    force: bool = False,
    processes: int = 1,
) -> FeedReport:
    """Score the names of one feed content (identified by `digest`) into alerts."""
    started = time.perf_counter()
    report = FeedReport(feed=name)
    cache = brands or BrandIndexCache()
    cursor = _cursor(database, name, kind)
    if cursor.last_digest == digest and not force:
        report.skipped = True
        return report
    skip = cursor.position if cursor.pending_digest == digest else 0
    report.resumed_at = skip
    when = seen_at or utcnow()
    position = skip
    context: dict[str, object] = {"feed": name}
    with database.session() as session:
        brand_set = cache.get(session)
    batches = _batches(islice(names, skip, None), batch_size)
    first = next(batches, None)
    second = next(batches, None)
    # A feed of more than one batch is scored on several cores; results are still
    # recorded strictly in order, so the stored position stays a true resume point.
    with scoring_processes(brand_set, processes if second is not None else 1) as pool:
        pending: deque[tuple[list[str], Future[list[Evidence]] | None]] = deque()
        upcoming = chain([b for b in (first, second) if b is not None], batches)
        while True:
            while len(pending) < max(1, 2 * processes) and (batch := next(upcoming, None)):
                job = pool.submit(_score, batch, when, context) if pool else None
                pending.append((batch, job))
            if not pending:
                break
            batch, job = pending.popleft()
            evidences = job.result() if job else brand_set.evidence(batch, SOURCE, when, context)
            with database.session() as session:
                for _, created in record_many(session, evidences):
                    report.alerts_created += created
                    report.alerts_updated += not created
                position += len(batch)
                row = session.get(FeedCursor, cursor.id)
                assert row is not None
                row.pending_digest, row.position = digest, position
            report.names += len(batch)
    with database.session() as session:
        row = session.get(FeedCursor, cursor.id)
        assert row is not None
        row.last_digest, row.pending_digest, row.position = digest, None, 0
        row.items_processed += report.names
        row.alerts_created += report.alerts_created
        row.last_processed_at, row.last_error = utcnow(), None
    report.seconds = time.perf_counter() - started
    log.info(
        "feed %s: %d names, %d new alerts, %.0f names/s",
        name,
        report.names,
        report.alerts_created,
        report.names_per_second,
    )
    return report


def record_error(database: Database, name: str, kind: str, message: str) -> None:
    with database.session() as session:
        row = session.scalar(select(FeedCursor).where(FeedCursor.name == name))
        if row is None:
            row = FeedCursor(name=name, kind=kind, position=0)
            session.add(row)
        row.last_error = message


def forget(database: Database, name: str) -> None:
    """Drop a feed's cursor so its current content is scored again."""
    with database.session() as session:
        row = session.scalar(select(FeedCursor).where(FeedCursor.name == name))
        if row is not None:
            row.last_digest, row.pending_digest, row.position = None, None, 0

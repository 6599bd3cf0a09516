"""Feed ingestion: score every name of a feed once, resumably, and record the alerts.

A feed's content is identified by its SHA-256: content already processed is skipped,
and a crash mid-file resumes after the last committed batch (the position is stored
in the same transaction as that batch's alerts).
"""

from __future__ import annotations

import logging
import operator
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
    # Another process was ingesting this feed: nothing was done (try again later).
    busy: bool = False
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


# Names per scoring job when several processes score a feed. A feed is committed in
# batches (`batch_size`, the resume points) but scored in smaller jobs so the cores
# finish together: the last job runs while the other cores may have nothing left.
JOB_SIZE = 2500
# Jobs shrink towards this size as the expected end of the feed nears.
MIN_JOB = 500
# Seconds between two progress lines of one feed (checked at each committed batch).
PROGRESS_EVERY = 10.0


def _jobs(
    names: Iterator[str], batch_size: int, job_size: int, expected: int, processes: int
) -> Iterator[tuple[list[str], bool]]:
    """Consecutive slices of `names` to score, each with whether it completes a batch.

    Batches are `batch_size` names (the last may be shorter) and a job never spans
    two. Jobs are at most `job_size` names. Given `expected`, an estimate of the
    names to come (0: unknown), each job is also at most 1/(2 * processes) of what
    is expected to remain, down to MIN_JOB (guided scheduling): the feed ends in
    small jobs, and the processes finish within a small job of each other.
    """
    guided = expected > 0
    filled = 0
    while True:
        size = min(job_size, batch_size - filled)
        if guided:
            size = min(size, max(MIN_JOB, -(-expected // (2 * processes))))
        job = list(islice(names, size))
        if not job:
            return
        expected -= len(job)
        filled += len(job)
        if filled >= batch_size:
            filled = 0
        yield job, filled == 0


def _cursor(database: Database, name: str, kind: str) -> FeedCursor:
    with database.session() as session:
        cursor = session.scalar(select(FeedCursor).where(FeedCursor.name == name))
        if cursor is None:
            cursor = FeedCursor(name=name, kind=kind, position=0)
            session.add(cursor)
            session.flush()
        session.expunge(cursor)
        return cursor


def _commit(
    database: Database,
    cursor_id: int,
    digest: str,
    position: int,
    count: int,
    evidences: list[Evidence],
    report: FeedReport,
    *,
    done: bool = False,
) -> int:
    """Record a batch's alerts and its end as the resume point, in one transaction.

    With `done`, the batch is the feed's last and the content is marked processed.
    """
    with database.session() as session:
        for _, created in record_many(session, evidences):
            report.alerts_created += created
            report.alerts_updated += not created
        report.names += count
        position += count
        row = session.get(FeedCursor, cursor_id)
        assert row is not None
        if not done:
            row.pending_digest, row.position = digest, position
        else:
            row.last_digest, row.pending_digest, row.position = digest, None, 0
            row.items_processed += report.names
            row.alerts_created += report.alerts_created
            row.last_processed_at, row.last_error = utcnow(), None
    return position


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
    processes: int = 1,
) -> FeedReport:
    """Score the names of one feed content (identified by `digest`) into alerts."""
    started = time.perf_counter()
    report = FeedReport(feed=name)
    cache = brands or BrandIndexCache()
    cursor = _cursor(database, name, kind)
    if cursor.last_digest == digest:
        report.skipped = True
        return report
    skip = cursor.position if cursor.pending_digest == digest else 0
    report.resumed_at = skip
    when = seen_at or utcnow()
    position = skip
    context: dict[str, object] = {"feed": name}
    with database.session() as session:
        brand_set = cache.get(session)
    rest = islice(names, skip, None)
    if processes > 1:
        expected = max(0, operator.length_hint(names) - skip)
        jobs = _jobs(rest, batch_size, min(JOB_SIZE, batch_size), expected, processes)
    else:
        jobs = _jobs(rest, batch_size, batch_size, 0, 1)
    first = next(jobs, None)
    second = next(jobs, None)
    # A feed of more than one job is scored on several cores; results are still
    # recorded strictly in feed order and committed a batch at a time, so the stored
    # position stays a true resume point.
    with scoring_processes(brand_set, processes if second is not None else 1) as pool:
        upcoming = chain([j for j in (first, second) if j is not None], jobs)
        pending: deque[tuple[list[str], bool, Future[list[Evidence]] | None]] = deque()
        # Jobs queued ahead of the one awaited: enough to keep every process busy
        # while a batch is being recorded.
        window = 4 * processes if pool else 1

        def refill() -> None:
            while len(pending) < window and (item := next(upcoming, None)):
                job, ends_batch = item
                future = None
                if pool:
                    future = pool.submit(_score, job, when, context)
                    # Let the pool's threads hand the job over now, not after the
                    # parsing of the next one (they need the GIL to do it).
                    time.sleep(0)
                pending.append((job, ends_batch, future))

        refill()
        found: list[Evidence] = []
        count = 0
        logged = started
        while pending:
            job, ends_batch, future = pending.popleft()
            found += future.result() if future else brand_set.evidence(job, SOURCE, when, context)
            count += len(job)
            refill()  # before recording: the processes work on while this batch is stored
            if not pending and pool:
                pool.shutdown(wait=False)  # all scored: they exit while the last batch is stored
            if ends_batch and pending:
                position = _commit(database, cursor.id, digest, position, count, found, report)
                found, count = [], 0
                now = time.perf_counter()
                if now - logged >= PROGRESS_EVERY:
                    logged = now
                    log.info(
                        "feed %s: %d names done, %d new alerts so far, %.0f names/s",
                        name,
                        position,
                        report.alerts_created,
                        report.names / (now - started),
                    )
        # The last batch and the end of the feed, in one transaction.
        _commit(database, cursor.id, digest, position, count, found, report, done=True)
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

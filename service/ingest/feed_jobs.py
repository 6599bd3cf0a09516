"""Feed jobs: read NRD lists and zone files (file or URL), score them once, keep zone versions."""

from __future__ import annotations

import asyncio
import errno
import fcntl
import hashlib
import logging
import os
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

import httpx
from sqlalchemy import select

from service.config import Settings
from service.db import Database
from service.feeds import service as feeds
from service.feeds.models import FeedCursor
from service.feeds.spec import FeedSpec
from service.ingest.scoring import BrandIndexCache
from service.sources.dns.errors import DnsError
from service.sources.dns.nrd import fetch_feed, open_nrd
from service.sources.dns.zonefile import delegations, new_delegations

log = logging.getLogger(__name__)


def _digest(path: Path) -> str:
    sha = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            sha.update(chunk)
    return sha.hexdigest()


# Lock files of the feeds this process is ingesting (see FeedJobs._alone).
_INGESTING: set[Path] = set()
_INGESTING_LOCK = threading.Lock()


def _prefix(name: str) -> str:
    """The start of the names of a feed's kept files (feed names may hold any character)."""
    return hashlib.sha256(name.encode()).hexdigest()[:16]


class FeedJobs:
    """Processes configured feeds; zone versions are kept under `state_dir` to diff the next.

    `state_dir` defaults to `settings.feeds_state_path` and is made absolute, and so
    are the paths stored in the cursors: any process finds the version another kept.
    """

    def __init__(
        self,
        settings: Settings,
        database: Database,
        state_dir: Path | None = None,
        brands: BrandIndexCache | None = None,
    ) -> None:
        self.settings = settings
        self.database = database
        self.specs = [FeedSpec.parse(text) for text in settings.feeds]
        self.state_dir = (state_dir or settings.feeds_state_path).resolve()
        self.brands = brands or BrandIndexCache()

    def _alone(
        self, name: str, work: Callable[[], feeds.FeedReport], force: bool
    ) -> feeds.FeedReport:
        """Run `work` unless another process or thread is ingesting the feed `name` (busy).

        With `force`, the feed's cursor is reset first (under the lock), so content
        already processed is scored again.

        Two workers on one feed would race on its cursor and, for a zone, delete each
        other's kept versions. Between processes the lock is a POSIX record lock on a
        file in the state dir, which every process ingesting feeds shares: the kernel
        drops it when its process ends, however it ends, and the forked scoring
        processes do not inherit it. Such a lock belongs to the whole process, so the
        threads of one process are told apart by `_INGESTING`, before the file is
        opened: closing any descriptor of it would release the process's lock.
        """
        self.state_dir.mkdir(parents=True, exist_ok=True)
        path = self.state_dir / f"{_prefix(name)}.lock"
        busy = feeds.FeedReport(feed=name, busy=True)
        with _INGESTING_LOCK:
            if path in _INGESTING:
                return busy
            _INGESTING.add(path)
        try:
            with path.open("a+b") as lock:
                try:
                    fcntl.lockf(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except OSError as exc:
                    if exc.errno not in (errno.EACCES, errno.EAGAIN):
                        raise
                    log.info("feed %s: another process is ingesting it; skipped this time", name)
                    return busy
                try:
                    if force:
                        feeds.forget(self.database, name)
                    return work()
                finally:
                    fcntl.lockf(lock, fcntl.LOCK_UN)
        finally:
            with _INGESTING_LOCK:
                _INGESTING.discard(path)

    def ingest_nrd(self, name: str, data: bytes, *, force: bool = False) -> feeds.FeedReport:
        """Score a newly-registered-domain list (plain, gzip or zip bytes) once."""
        return self._alone(name, lambda: self._ingest_nrd(name, data), force)

    def _ingest_nrd(self, name: str, data: bytes) -> feeds.FeedReport:
        digest = hashlib.sha256(data).hexdigest()
        if feeds.already_processed(self.database, name, "nrd", digest):
            return feeds.FeedReport(feed=name, skipped=True)
        # Read and decompressed now (FeedError before anything is scored), parsed as the
        # names are scored: the scoring processes start on the first lines.
        parsed = open_nrd(data)
        try:
            return feeds.ingest(
                self.database,
                name,
                "nrd",
                digest,
                parsed,
                brands=self.brands,
                processes=self.settings.feeds_processes,
            )
        finally:
            for bad in parsed.bad[:20]:
                log.warning("feed %s line %d skipped: %s", name, bad.line, bad.reason)

    def ingest_zone(self, name: str, path: Path, *, force: bool = False) -> feeds.FeedReport:
        """Score the delegations new since the previous version of a zone file (`_ingest_zone`)."""
        return self._alone(name, lambda: self._ingest_zone(name, path), force)

    def _ingest_zone(self, name: str, path: Path) -> feeds.FeedReport:
        """Score the delegations new since the previous version of a zone file.

        The first version seen is the baseline: it is kept, not scored. A version is
        copied into `state_dir` before it is scored and becomes the previous one only
        once its feed is done, so a crash at any point loses no delegation: the next
        run resumes the same version, or diffs the next against an older one (more
        names scored again, which only updates their alerts).
        """
        self._finish_switch(name)
        if feeds.already_processed(self.database, name, "zone", _digest(path)):
            return feeds.FeedReport(feed=name, skipped=True)
        # The diff reads the copy, not `path`: a zone rewritten meanwhile cannot make
        # the scored names and the kept version disagree.
        keep, digest = self._keep(name, path)
        previous = self._previous_path(name)
        if previous is not None and Path(previous).exists():
            log.info("zone %s: diffing against the previous version %s", name, previous)
            started = time.perf_counter()
            names = list(new_delegations(previous, keep, workdir=self.state_dir))
            log.info(
                "zone %s: %d new delegations (diff: %.1f s)",
                name,
                len(names),
                time.perf_counter() - started,
            )
        else:
            if previous is not None:
                log.warning(
                    "zone %s: the previous version %s is missing: this version becomes the "
                    "baseline and its new delegations are not scored",
                    name,
                    previous,
                )
            names = []
            log.info(
                "zone %s: first version (%d delegations) kept as the baseline",
                name,
                sum(1 for _ in delegations(keep)),
            )
        report = feeds.ingest(
            self.database,
            name,
            "zone",
            digest,
            names,
            brands=self.brands,
            processes=self.settings.feeds_processes,
        )
        self._switch(name, keep)
        return report

    def _keep_path(self, name: str, digest: str) -> Path:
        return self.state_dir / f"{_prefix(name)}-{digest}.zone"

    def _keep(self, name: str, path: Path) -> tuple[Path, str]:
        """Copy `path` into the state dir, durably, named by its digest: (copy, digest)."""
        sha = hashlib.sha256()
        handle, partial = tempfile.mkstemp(
            dir=self.state_dir, prefix=f"{_prefix(name)}-", suffix=".part"
        )
        try:
            with os.fdopen(handle, "wb") as out, path.open("rb") as source:
                for chunk in iter(lambda: source.read(1 << 20), b""):
                    sha.update(chunk)
                    out.write(chunk)
                out.flush()
                # The cursor will point at this file: it must survive a power loss too.
                os.fsync(out.fileno())
            keep = self._keep_path(name, sha.hexdigest())
            os.replace(partial, keep)
        except BaseException:
            Path(partial).unlink(missing_ok=True)
            raise
        return keep, sha.hexdigest()

    def _switch(self, name: str, keep: Path) -> None:
        """Make `keep` the version the next one is diffed against, then drop the others."""
        with self.database.session() as session:
            cursor = session.scalar(select(FeedCursor).where(FeedCursor.name == name))
            if cursor is None:
                return
            replaced, cursor.previous_path = cursor.previous_path, str(keep)
        # Only after the commit: until then the replaced version is the one to diff against.
        if replaced is not None and Path(replaced) != keep:
            Path(replaced).unlink(missing_ok=True)
        # Versions kept by runs that died before their switch (and their partial copies).
        for stale in self.state_dir.glob(f"{_prefix(name)}-*"):
            if stale != keep:
                stale.unlink(missing_ok=True)

    def _finish_switch(self, name: str) -> None:
        """Complete a switch a crash interrupted after the feed was marked processed."""
        with self.database.session() as session:
            row = session.execute(
                select(FeedCursor.last_digest, FeedCursor.previous_path).where(
                    FeedCursor.name == name
                )
            ).one_or_none()
        if row is None or row.last_digest is None:
            return
        keep = self._keep_path(name, row.last_digest)
        if row.previous_path != str(keep) and keep.exists():
            log.info("zone %s: %s becomes the previous version (switch interrupted)", name, keep)
            self._switch(name, keep)

    def _previous_path(self, name: str) -> str | None:
        with self.database.session() as session:
            return session.scalar(select(FeedCursor.previous_path).where(FeedCursor.name == name))

    async def poll(self) -> list[feeds.FeedReport]:
        reports = []
        for spec in self.specs:
            try:
                if spec.kind == "zone":
                    report = await asyncio.to_thread(
                        self.ingest_zone, spec.name, Path(spec.location)
                    )
                elif spec.location.startswith(("http://", "https://")):
                    async with httpx.AsyncClient(follow_redirects=True) as client:
                        data = await fetch_feed(spec.location, client)
                    report = await asyncio.to_thread(self.ingest_nrd, spec.name, data)
                else:
                    data = Path(spec.location).read_bytes()
                    report = await asyncio.to_thread(self.ingest_nrd, spec.name, data)
            except (DnsError, OSError) as exc:
                log.warning("feed %s failed: %s", spec.name, exc)
                feeds.record_error(self.database, spec.name, spec.kind, str(exc))
                continue
            except Exception as exc:  # one feed's trouble must not stop the others
                log.exception("feed %s failed", spec.name)
                feeds.record_error(self.database, spec.name, spec.kind, f"unexpected: {exc}")
                continue
            reports.append(report)
        return reports

    def poll_job(self) -> None:
        try:
            asyncio.run(self.poll())
        except Exception:
            log.exception("feed poll failed")

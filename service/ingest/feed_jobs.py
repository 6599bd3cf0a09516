"""Feed jobs: read NRD lists and zone files (file or URL), score them once, keep zone versions."""

from __future__ import annotations

import asyncio
import hashlib
import logging
import shutil
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


class FeedJobs:
    """Processes configured feeds; zone versions are kept under `state_dir` to diff the next."""

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
        self.state_dir = state_dir or Path("data") / "feeds"
        self.brands = brands or BrandIndexCache()

    def ingest_nrd(self, name: str, data: bytes) -> feeds.FeedReport:
        """Score a newly-registered-domain list (plain, gzip or zip bytes) once."""
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

    def ingest_zone(self, name: str, path: Path) -> feeds.FeedReport:
        """Score the delegations new since the previous version of a zone file.

        The first version seen is the baseline: it is kept, not scored.
        """
        digest = _digest(path)
        if feeds.already_processed(self.database, name, "zone", digest):
            return feeds.FeedReport(feed=name, skipped=True)
        previous = self._previous_path(name)
        self.state_dir.mkdir(parents=True, exist_ok=True)
        keep = self.state_dir / f"{hashlib.sha256(name.encode()).hexdigest()[:16]}.zone"
        if previous is None or not Path(previous).exists():
            names: list[str] = []
            log.info(
                "zone %s: first version (%d delegations) kept as the baseline",
                name,
                sum(1 for _ in delegations(path)),
            )
        else:
            names = list(new_delegations(previous, path, workdir=self.state_dir))
        report = feeds.ingest(
            self.database,
            name,
            "zone",
            digest,
            names,
            brands=self.brands,
            processes=self.settings.feeds_processes,
        )
        shutil.copyfile(path, keep)
        with self.database.session() as session:
            cursor = session.scalar(select(FeedCursor).where(FeedCursor.name == name))
            if cursor is not None:
                cursor.previous_path = str(keep)
        return report

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

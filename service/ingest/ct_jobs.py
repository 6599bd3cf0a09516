"""CT jobs for the scheduler: refresh the log list, poll every log; built from Settings."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

from service.config import Settings
from service.ctlogs.service import SyncResult, sync_log_list
from service.db import Database
from service.ingest.ct import CtConfig, CtIngestor, DedupCache, PollReport
from service.ingest.scoring import BrandIndexCache
from service.sources.ct.http import CTHttpClient, HttpConfig
from service.sources.ct.loglist import LogList, fetch_log_list, load_log_list

log = logging.getLogger(__name__)


def http_config(settings: Settings) -> HttpConfig:
    return HttpConfig(
        contact_url=settings.ct_contact_url,
        global_concurrency=settings.ct_global_concurrency,
        per_log_concurrency=settings.ct_per_log_concurrency,
    )


def ct_config(settings: Settings) -> CtConfig:
    return CtConfig(
        batch_size=settings.ct_batch_size,
        backfill=settings.ct_backfill,
        max_batches_per_poll=settings.ct_max_batches_per_poll,
        partial_tile_wait=settings.ct_partial_tile_wait,
    )


async def read_log_list(source: str, client: CTHttpClient) -> LogList:
    """A log list from a URL (through the CT HTTP client) or a local file."""
    if source.startswith(("http://", "https://")):
        return await fetch_log_list(client, source)
    return load_log_list(Path(source).expanduser())


class CtJobs:
    """State shared by the CT jobs of one worker: the brand index and the dedup cache."""

    def __init__(self, settings: Settings, database: Database) -> None:
        if not settings.ct_log_list:
            raise ValueError("CT ingestion needs PHANTOMWATCH_CT_LOG_LIST")
        self.settings = settings
        self.source = settings.ct_log_list
        self.database = database
        self.brands = BrandIndexCache()
        self.dedup = DedupCache(ct_config(settings).dedup_cache_size)

    async def refresh_log_list(self) -> SyncResult:
        async with CTHttpClient(http_config(self.settings)) as client:
            log_list = await read_log_list(self.source, client)
        for name, why in log_list.rejected:
            log.warning("log list entry %s ignored: %s", name, why)
        with self.database.session() as session:
            result = sync_log_list(session, log_list.logs)
        if result.added or result.updated:
            log.info("CT log list: %d added, %d updated", len(result.added), len(result.updated))
        return result

    async def poll(self) -> list[PollReport]:
        async with CTHttpClient(http_config(self.settings)) as client:
            ingestor = CtIngestor(
                self.database, client, ct_config(self.settings), self.brands, self.dedup
            )
            reports = await ingestor.poll_all()
        for report in reports:
            if report.entries or report.error:
                log.info(
                    "CT %s: %d entries, %d names, %d new alerts, at %d/%s%s",
                    report.log,
                    report.entries,
                    report.names,
                    report.alerts_created,
                    report.next_index,
                    report.head_size,
                    f", error: {report.error}" if report.error else "",
                )
        return reports

    def refresh_log_list_job(self) -> None:
        try:
            asyncio.run(self.refresh_log_list())
        except Exception:
            log.exception("CT log list refresh failed")

    def poll_job(self) -> None:
        try:
            asyncio.run(self.poll())
        except Exception:
            log.exception("CT poll failed")

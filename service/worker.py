"""The scheduler process: APScheduler jobs (sources, enrichment, delivery) registered here."""

from __future__ import annotations

import logging
import signal
import threading

from apscheduler.schedulers.background import BackgroundScheduler

from service.config import Settings
from service.db import Database

log = logging.getLogger(__name__)


def build_scheduler(settings: Settings, database: Database) -> BackgroundScheduler:
    """A scheduler with every job of the enabled features (none are configured yet)."""
    scheduler = BackgroundScheduler(
        timezone="UTC", job_defaults={"coalesce": True, "max_instances": 1}
    )
    return scheduler


def run_worker(settings: Settings, database: Database) -> None:
    """Run scheduled jobs until SIGINT or SIGTERM."""
    scheduler = build_scheduler(settings, database)
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    scheduler.start()
    log.info("worker started with %d job(s)", len(scheduler.get_jobs()))
    stop.wait()
    log.info("worker stopping")
    scheduler.shutdown(wait=True)

"""The scheduler process: APScheduler jobs (sources, enrichment, delivery) registered here."""

from __future__ import annotations

import logging
import signal
import threading
from datetime import UTC, datetime, timedelta

from apscheduler.schedulers.background import BackgroundScheduler

from service.config import Settings
from service.db import Database

log = logging.getLogger(__name__)


def build_scheduler(settings: Settings, database: Database) -> BackgroundScheduler:
    """A scheduler with the jobs of every configured source."""
    scheduler = BackgroundScheduler(
        timezone="UTC", job_defaults={"coalesce": True, "max_instances": 1}
    )
    if settings.ct_log_list:
        from service.ingest.ct_jobs import CtJobs

        ct = CtJobs(settings, database)
        now = datetime.now(UTC)
        scheduler.add_job(
            ct.refresh_log_list_job,
            "interval",
            seconds=settings.ct_log_list_refresh,
            id="ct-log-list",
            next_run_time=now,
        )
        scheduler.add_job(
            ct.poll_job,
            "interval",
            seconds=settings.ct_poll_interval,
            id="ct-poll",
            next_run_time=now + timedelta(seconds=2),
        )
    else:
        log.info("CT ingestion is off: set PHANTOMWATCH_CT_LOG_LIST to a log list file or URL")
    if settings.dns_enabled:
        from service.ingest.dns_jobs import DnsJobs

        dns = DnsJobs(settings, database)
        now = datetime.now(UTC)
        scheduler.add_job(
            dns.refresh_job, "interval", hours=1, id="dns-watch-refresh", next_run_time=now
        )
        scheduler.add_job(
            dns.watch_job,
            "interval",
            seconds=60,
            id="dns-watch",
            next_run_time=now + timedelta(seconds=5),
        )
        scheduler.add_job(
            dns.enrich_job,
            "interval",
            seconds=60,
            id="dns-enrich",
            next_run_time=now + timedelta(seconds=10),
        )
    from service.webhooks.delivery import delivery_job

    scheduler.add_job(
        delivery_job,
        "interval",
        args=(settings, database),
        seconds=settings.webhook_poll_interval,
        id="webhook-delivery",
        next_run_time=datetime.now(UTC),
    )
    if settings.phantom_endpoints:
        scheduler.add_job(
            phantom_job,
            "interval",
            args=(settings, database),
            hours=1,
            id="phantom-probe",
            next_run_time=datetime.now(UTC) + timedelta(seconds=30),
        )
    if settings.feeds:
        from service.ingest.feed_jobs import FeedJobs

        feeds = FeedJobs(settings, database)
        scheduler.add_job(
            feeds.poll_job,
            "interval",
            seconds=settings.feeds_interval,
            id="feeds",
            next_run_time=datetime.now(UTC) + timedelta(seconds=3),
        )
    return scheduler


def phantom_job(settings: Settings, database: Database) -> None:
    """Probe one brand that is due (probes are slow and rate-limited: one per run)."""
    import asyncio

    from service.phantom import service as phantom

    with database.session() as session:
        due = phantom.due_brands(session, settings.phantom_interval)
    if due:
        try:
            run = asyncio.run(phantom.probe(settings, database, due[0]))
            log.info(
                "phantom probe of brand %s: %s, %d names", due[0], run.status, run.candidates_found
            )
        except Exception:
            log.exception("phantom probe failed")


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

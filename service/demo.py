"""`phantomwatch demo`: the whole CT pipeline against the local emulator, offline, in seconds."""

from __future__ import annotations

import asyncio
import tempfile
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.engine import make_url

from service.alerts.models import Alert
from service.brands.schemas import BrandCreate
from service.brands.service import create_brand
from service.config import Settings
from service.db import Database
from service.ingest.ct_jobs import CtJobs
from service.migrate import upgrade
from service.sources.ct.emulator import Emulator

BRANDS = [
    BrandCreate(name="PayPal", domains=["paypal.com"]),
    BrandCreate(name="Acme Bank", domains=["acmebank.com"], keywords=["acmebank"]),
]
# What a day of CT looks like for two brands: a few lookalikes among ordinary names.
CERTIFICATES = [
    ["www.example.org", "example.org"],
    ["paypa1.com", "www.paypa1.com"],
    ["shop.gardening-tips.net"],
    ["paypal-secure-login.com"],
    ["paypal.com.verify-id.ru"],
    ["xn--pypal-4ve.com"],
    ["mail.university.edu"],
    ["acmebank-support24.com"],
    ["acrnebank.com"],
    ["login-acmebank.web.app"],
    ["api.weather-service.io"],
    ["paypal.com"],
]


def run_demo(emit: Callable[[str], None], workdir: Path | None = None) -> list[Alert]:
    """Emulate two CT logs, ingest them into a fresh database and return the alerts."""
    with tempfile.TemporaryDirectory(prefix="phantomwatch-demo-") as tmp:
        root = workdir or Path(tmp)
        url = make_url(f"sqlite:///{root / 'demo.db'}")
        upgrade(url)
        database = Database(url)
        with Emulator() as emulator:
            emulator.add_certificates(CERTIFICATES)
            emit(f"CT emulator serving an RFC 6962 log and a tiled log at {emulator.base_url}")
            with database.session() as session:
                for brand in BRANDS:
                    create_brand(session, brand)
            emit("protecting: " + ", ".join(b.name for b in BRANDS))
            settings = Settings(
                database_url=str(url),
                ct_log_list=emulator.urls["log_list"],
                ct_backfill=10**9,
                ct_partial_tile_wait=0,
            )
            jobs = CtJobs(settings, database)
            asyncio.run(jobs.refresh_log_list())
            for report in asyncio.run(jobs.poll()):
                emit(
                    f"{report.log}: {report.entries} entries, {report.names} names, "
                    f"{report.alerts_created} new alerts, verified={report.verified}"
                )
        with database.session() as session:
            alerts = list(session.scalars(select(Alert).order_by(Alert.score.desc(), Alert.domain)))
            for alert in alerts:
                session.expunge(alert)
        database.dispose()
        return alerts

"""Prometheus figures of the CT logs, read from the database at scrape time."""

from __future__ import annotations

import logging
from collections.abc import Iterator

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy.exc import SQLAlchemyError

from service.ctlogs import service
from service.db import Database

log = logging.getLogger(__name__)


class CtLogCollector(Collector):
    """Per-log cursor, head, lag, throughput and health, labelled by log name."""

    def __init__(self, database: Database) -> None:
        self.database = database

    def describe(self) -> Iterator[Metric]:
        # Registration must not touch the database (it may not be migrated yet).
        return iter(())

    def collect(self) -> Iterator[Metric]:
        try:
            with self.database.session() as session:
                rows = service.list_logs(session)
        except SQLAlchemyError:
            log.warning("CT metrics unavailable: database not readable", exc_info=True)
            return
        labels = ["log"]
        entries = CounterMetricFamily(
            "phantomwatch_ct_entries_processed", "CT entries processed.", labels=labels
        )
        malformed = CounterMetricFamily(
            "phantomwatch_ct_malformed_entries", "CT entries that failed to parse.", labels=labels
        )
        lag = GaugeMetricFamily(
            "phantomwatch_ct_lag_entries",
            "Entries behind the newest signed head.",
            labels=labels,
        )
        rate = GaugeMetricFamily(
            "phantomwatch_ct_entries_per_second", "Throughput of the last poll.", labels=labels
        )
        healthy = GaugeMetricFamily(
            "phantomwatch_ct_log_healthy",
            "1 while the log verifies, 0 once it lied.",
            labels=labels,
        )
        for row in rows:
            name = [row.name]
            entries.add_metric(name, row.entries_processed)
            malformed.add_metric(name, row.malformed_entries)
            healthy.add_metric(name, 1.0 if row.healthy else 0.0)
            behind = service.lag(row)
            if behind is not None:
                lag.add_metric(name, behind)
            if row.entries_per_second is not None:
                rate.add_metric(name, row.entries_per_second)
        yield from (entries, malformed, lag, rate, healthy)

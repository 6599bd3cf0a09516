"""DNS jobs: enrich alerted domains, refresh and check the registration watch lists."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import or_, select, update

from service.alerts.models import Alert
from service.alerts.service import add_dns_evidence
from service.brands.models import Brand
from service.config import Settings
from service.db import Database, utcnow
from service.sources.dns.enrich import (
    Enrichment,
    brand_nameservers,
    enrich,
    last_known,
    material_changes,
    ownership_changes,
    severity_boost,
)
from service.sources.dns.registration import registration_state
from service.sources.dns.resolver import DnsClient, ResolverConfig
from service.watch import service as watch
from service.watch.models import DnsSnapshot

log = logging.getLogger(__name__)

CLAIM = timedelta(minutes=10)  # how long a claimed name is left to the worker that took it


@dataclass
class EnrichReport:
    checked: int = 0
    changed: int = 0
    unknown: int = 0


@dataclass
class WatchReport:
    checked: int = 0
    registered: int = 0
    alerts: int = 0


class DnsJobs:
    """The DNS work of one worker; each run opens its own client on the job's event loop."""

    def __init__(self, settings: Settings, database: Database) -> None:
        self.settings = settings
        self.database = database
        self.recheck = timedelta(seconds=settings.dns_recheck_interval)
        self.watch_interval = timedelta(seconds=settings.dns_watch_interval)

    def client(self) -> DnsClient:
        return DnsClient(ResolverConfig.from_settings(self.settings))

    # --- enrichment of alerts --------------------------------------------------------------
    async def enrich_due(self, limit: int | None = None) -> EnrichReport:
        """Check alerts never looked up, then those whose last look is older than the recheck."""
        due = await asyncio.to_thread(self._due_alerts, limit or self.settings.dns_batch)
        client = self.client()
        results = await asyncio.gather(
            *(enrich(client, domain) for _, domain in due), return_exceptions=True
        )
        report = EnrichReport(checked=len(due))
        for (alert_id, domain), enrichment in zip(due, results, strict=True):
            if isinstance(enrichment, BaseException):
                # e.g. a name DNS cannot ask about; mark it checked so it does not block others
                log.warning("DNS enrichment of %s failed: %s", domain, enrichment)
                await asyncio.to_thread(self._mark_checked, alert_id)
                continue
            changed = await asyncio.to_thread(self._store, alert_id, enrichment)
            report.changed += bool(changed)
            report.unknown += enrichment.state == "unknown"
        return report

    def _due_alerts(self, limit: int) -> list[tuple[int, str]]:
        """Claim due alerts: other workers skip them until CLAIM has passed, so the alerts
        of a worker that dies are due again then."""
        now = utcnow()
        stale = now - self.recheck
        with self.database.session() as session:
            rows = session.execute(
                select(Alert.id, Alert.domain)
                .where(or_(Alert.dns_checked_at.is_(None), Alert.dns_checked_at < stale))
                .where(or_(Alert.dns_claimed_until.is_(None), Alert.dns_claimed_until < now))
                .order_by(Alert.dns_checked_at.is_not(None), Alert.dns_checked_at, Alert.id)
                .limit(limit)
                .with_for_update(skip_locked=True, of=Alert)
            ).all()
            claimed = [(row.id, row.domain) for row in rows]
            if claimed:
                session.execute(
                    update(Alert)
                    .where(Alert.id.in_([alert_id for alert_id, _ in claimed]))
                    # A claim is bookkeeping, not a change of the alert.
                    .values(dns_claimed_until=now + CLAIM, updated_at=Alert.updated_at)
                )
            return claimed

    def _mark_checked(self, alert_id: int) -> None:
        with self.database.session() as session:
            alert = session.get(Alert, alert_id)
            if alert is not None:
                alert.dns_checked_at, alert.dns_claimed_until = utcnow(), None

    def _store(self, alert_id: int, enrichment: Enrichment) -> list[str]:
        with self.database.session() as session:
            alert = session.get(Alert, alert_id)
            if alert is None:
                return []
            # Compare each lookup with its own last known answer: a lookup that timed
            # out is no change, and one that answers again is not news twice.
            # Read newest first, only as far back as some lookup is still unanswered.
            rows = session.scalars(
                select(DnsSnapshot.data)
                .where(DnsSnapshot.alert_id == alert_id)
                .order_by(DnsSnapshot.taken_at.desc(), DnsSnapshot.id.desc())
                .execution_options(yield_per=16)
            )
            previous = last_known(Enrichment.from_json(data) for data in rows)
            # This look, its unknown lookups read as their last known answers.
            current = last_known([enrichment, previous] if previous else [enrichment])
            assert current is not None
            brand = session.get(Brand, alert.brand_id)
            official = brand.domains if brand is not None else []
            owned, adjust = ownership_changes(previous, current, official)
            changes = material_changes(previous, current) + owned
            session.add(
                DnsSnapshot(
                    alert_id=alert_id,
                    state=enrichment.state,
                    data=enrichment.to_json(),
                    changes=changes,
                )
            )
            # The score carries the boost of the last known DNS state; a change
            # moves it by the difference (down too, when a name goes dark).
            adjust += severity_boost(current) - severity_boost(previous)
            summary = {
                "state": enrichment.state,
                "has_mx": enrichment.has_mx,
                "parked": enrichment.parked,
                "wildcard": enrichment.wildcard,
                "brand_nameservers": list(brand_nameservers(enrichment, official) or ()),
            }
            add_dns_evidence(session, alert, enrichment.state, changes, summary, adjust)
            return changes

    # --- registration watch ------------------------------------------------------------------
    def refresh_watchlists(self) -> int:
        """Top up every brand's predicted lookalikes (new brands, changed domains)."""
        added = 0
        with self.database.session() as session:
            live = Brand.deleted_at.is_(None) & Brand.enabled.is_(True)
            brand_ids = list(session.scalars(select(Brand.id).where(live)))
        for brand_id in brand_ids:  # one short transaction per brand
            with self.database.session() as session:
                brand = session.get(Brand, brand_id)
                if brand is None:
                    continue
                added += len(
                    watch.refresh_generated(
                        session, brand, self.settings.dns_watch_per_brand, self.watch_interval
                    )
                )
        return added

    async def check_watchlists(self, limit: int | None = None) -> WatchReport:
        """Check the watched names that are due; free -> registered raises an alert."""
        due = await asyncio.to_thread(self._due_watch, limit or self.settings.dns_batch)
        client = self.client()
        states = await asyncio.gather(
            *(registration_state(client, e.domain) for e in due), return_exceptions=True
        )
        report = WatchReport(checked=len(due))
        for entry, outcome in zip(due, states, strict=True):
            if isinstance(outcome, BaseException):
                state, detail = "unknown", f"{type(outcome).__name__}: {outcome}"
            else:
                state, detail = outcome, None
            alert = await asyncio.to_thread(self._record_watch, entry.id, state, detail)
            report.registered += state == "registered"
            report.alerts += alert
        return report

    def _due_watch(self, limit: int) -> list[watch.DueEntry]:
        with self.database.session() as session:
            return watch.due(session, limit)

    def _record_watch(self, entry_id: int, state: str, detail: str | None) -> bool:
        with self.database.session() as session:
            alert = watch.record_check(session, entry_id, state, detail, self.watch_interval)
            return alert is not None

    # --- scheduler entry points ---------------------------------------------------------------
    def enrich_job(self) -> None:
        try:
            report = asyncio.run(self.enrich_due())
            if report.checked:
                log.info("DNS enrichment: %s", report)
        except Exception:
            log.exception("DNS enrichment failed")

    def watch_job(self) -> None:
        try:
            report = asyncio.run(self.check_watchlists())
            if report.checked:
                log.info("registration watch: %s", report)
        except Exception:
            log.exception("registration watch failed")

    def refresh_job(self) -> None:
        try:
            added = self.refresh_watchlists()
            if added:
                log.info("registration watch: %d predicted names added", added)
        except Exception:
            log.exception("watch list refresh failed")

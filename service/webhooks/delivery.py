"""The delivery worker: claim a subscription, send its due events in order, record every attempt.

Exactly once from the receiver's point of view: a delivery is marked delivered only
after a 2xx (or a written syslog frame), so a crash between sending and recording
sends it again with the same `webhook-id`, which receivers deduplicate on. One worker
at a time holds a subscription's lease, so its events go out in event order; a slow
or failing receiver holds up only its own subscription.
"""

from __future__ import annotations

import asyncio
import logging
import os
import random
import socket
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import urlsplit

from sqlalchemy import and_, exists, insert, or_, select, update
from sqlalchemy.orm import Session

from service.config import Settings
from service.db import Database, utcnow
from service.webhooks.events import WebhookEvent, event_from_row, sample_event
from service.webhooks.formats import render_cef_syslog, render_json, render_splunk
from service.webhooks.models import WebhookAttempt, WebhookDelivery, WebhookSubscription
from service.webhooks.schemas import ProbeResult
from service.webhooks.transport import AttemptResult, DeliveryError, HttpSender, SyslogSender

log = logging.getLogger(__name__)

RECORD_BATCH = 50  # results recorded per transaction (or every 0.2 s)


@dataclass(frozen=True)
class DeliveryConfig:
    """Retry and batching policy (from settings)."""

    batch_size: int = 100  # events sent per subscription per claim
    concurrency: int = 16  # subscriptions served at once by one worker
    lease: timedelta = timedelta(seconds=60)
    backoff_initial: timedelta = timedelta(seconds=5)
    backoff_max: timedelta = timedelta(hours=1)
    max_age: timedelta = timedelta(hours=24)  # then dead-letter
    pause_after: int = 50  # consecutive failures


@dataclass(frozen=True)
class Target:
    """What a sender needs of a subscription (a plain copy, safe outside the session)."""

    id: int
    target: str
    format: str
    secrets: list[str]


@dataclass(frozen=True)
class AttemptOutcome:
    ok: bool
    status_code: int | None = None
    latency_ms: float | None = None
    excerpt: str | None = None
    error: str | None = None
    retryable: bool = True
    retry_after: float | None = None


Send = Callable[[Target, WebhookEvent], Awaitable[AttemptOutcome]]


@dataclass
class RunStats:
    subscriptions: int = 0
    delivered: int = 0
    failed: int = 0
    dead: int = 0


class _LeaseLost(Exception):
    """Another worker holds this subscription now."""


def event_of(delivery: WebhookDelivery) -> WebhookEvent:
    return event_from_row(
        delivery.event_id, delivery.event_type, delivery.event_time, delivery.data
    )


class DeliveryWorker:
    """Runs delivery rounds; several workers (processes) may run against one database."""

    def __init__(
        self,
        database: Database,
        send: Send,
        config: DeliveryConfig | None = None,
        worker_id: str | None = None,
    ) -> None:
        self.database = database
        self.send = send
        self.config = config or DeliveryConfig()
        self.worker_id = worker_id or f"{socket.gethostname()}:{os.getpid()}:{id(self):x}"

    async def run_once(self) -> RunStats:
        """Claim every subscription with due events and deliver them."""
        stats = RunStats()
        claimed = await asyncio.to_thread(self._claim)
        stats.subscriptions = len(claimed)
        gate = asyncio.Semaphore(self.config.concurrency)

        async def serve(target: Target) -> None:
            async with gate:
                try:
                    await self._serve(target, stats)
                except _LeaseLost:
                    log.warning("lost the lease of webhook subscription %s", target.id)
                except Exception:
                    # One subscription's trouble must not stop the others' deliveries.
                    log.exception("delivering webhook subscription %s failed", target.id)

        await asyncio.gather(*(serve(t) for t in claimed))
        return stats

    # --- claiming ----------------------------------------------------------------------
    def _claim(self) -> list[Target]:
        now = utcnow()
        due = exists().where(
            WebhookDelivery.subscription_id == WebhookSubscription.id,
            WebhookDelivery.status == "pending",
            WebhookDelivery.next_attempt_at <= now,
        )
        query = (
            select(WebhookSubscription)
            .where(
                WebhookSubscription.enabled.is_(True),
                WebhookSubscription.paused_at.is_(None),
                or_(
                    WebhookSubscription.lease_until.is_(None),
                    WebhookSubscription.lease_until < now,
                ),
                due,
            )
            .order_by(WebhookSubscription.id)
            # Only what this round serves at once: a claimed subscription waiting for
            # a free slot would otherwise sit on a lease it does not use.
            .limit(self.config.concurrency)
            # PostgreSQL: workers skip each other's rows instead of waiting; SQLite
            # serializes writers (BEGIN IMMEDIATE), which is just as safe.
            .with_for_update(skip_locked=True, of=WebhookSubscription)
        )
        from service.webhooks.service import active_secrets

        with self.database.session() as session:
            subs = list(session.scalars(query))
            for sub in subs:
                sub.leased_by, sub.lease_until = self.worker_id, now + self.config.lease
            return [Target(s.id, s.target, s.format, active_secrets(s, now)) for s in subs]

    # --- sending -------------------------------------------------------------------------
    async def _serve(self, target: Target, stats: RunStats) -> None:
        # Results are recorded in small batches: a crash before a batch is recorded
        # sends those events again, with the same webhook-id, which is the contract.
        done: list[tuple[int, AttemptOutcome]] = []
        flushed_at = time.monotonic()

        async def flush() -> list[str]:
            nonlocal flushed_at
            states = await asyncio.to_thread(self._record_many, target.id, done) if done else []
            done.clear()
            flushed_at = time.monotonic()
            return states

        try:
            pending = await asyncio.to_thread(self._head_of_line, target.id)
            for delivery_id, event, due_at in pending:
                if due_at > utcnow():
                    break  # the oldest event waits for its retry: later ones wait behind it
                try:
                    outcome = await self.send(target, event)
                except Exception as exc:  # a sender bug must not kill the worker
                    log.exception("webhook sender failed for subscription %s", target.id)
                    outcome = AttemptOutcome(ok=False, error=f"internal error: {exc}")
                done.append((delivery_id, outcome))
                if outcome.ok and len(done) < RECORD_BATCH and time.monotonic() - flushed_at < 0.2:
                    continue
                states = await flush()
                stats.delivered += states.count("delivered")
                stats.failed += len(states) - states.count("delivered")
                stats.dead += states.count("dead")
                if states and states[-1] != "delivered":
                    break  # a failing receiver gets one try per round, not a batch of them
            states = await flush()
            stats.delivered += states.count("delivered")
            stats.failed += len(states) - states.count("delivered")
            stats.dead += states.count("dead")
        finally:
            await asyncio.to_thread(self._release, target.id)

    def _record_many(self, sub_id: int, done: list[tuple[int, AttemptOutcome]]) -> list[str]:
        """Record a batch of results in one transaction; successes as bulk statements.

        The lease is renewed in the same transaction; if another worker took the
        subscription over meanwhile, nothing is recorded (it will send these again,
        with the same webhook-ids) and this worker stops serving it.
        """
        states: list[str] = []
        with self.database.session() as session:
            renewed = session.execute(
                update(WebhookSubscription)
                .where(
                    WebhookSubscription.id == sub_id,
                    WebhookSubscription.leased_by == self.worker_id,
                )
                .values(lease_until=utcnow() + self.config.lease)
            )
            if renewed.rowcount != 1:  # type: ignore[attr-defined]
                raise _LeaseLost
            alive = set(
                session.scalars(
                    select(WebhookDelivery.id).where(
                        WebhookDelivery.id.in_([delivery_id for delivery_id, _ in done])
                    )
                )
            )
            done = [(d, o) for d, o in done if d in alive]  # deleted meanwhile: forget them
            run: list[tuple[int, AttemptOutcome]] = []
            for delivery_id, outcome in done:
                if outcome.ok:
                    run.append((delivery_id, outcome))
                    continue
                states += self._record_delivered(session, sub_id, run)
                run = []
                states.append(self._record(session, sub_id, delivery_id, outcome))
            states += self._record_delivered(session, sub_id, run)
        return states

    def _record_delivered(
        self, session: Session, sub_id: int, run: list[tuple[int, AttemptOutcome]]
    ) -> list[str]:
        if not run:
            return []
        now = utcnow()
        session.execute(
            insert(WebhookAttempt),
            [
                {
                    "delivery_id": delivery_id,
                    "attempted_at": now,
                    "status_code": o.status_code,
                    "latency_ms": o.latency_ms,
                    "response_excerpt": o.excerpt,
                }
                for delivery_id, o in run
            ],
        )
        session.execute(
            update(WebhookDelivery)
            .where(WebhookDelivery.id.in_([delivery_id for delivery_id, _ in run]))
            .values(
                status="delivered",
                delivered_at=now,
                attempts=WebhookDelivery.attempts + 1,
                last_error=None,
                last_status_code=run[-1][1].status_code,
            )
        )
        session.execute(
            update(WebhookSubscription)
            .where(WebhookSubscription.id == sub_id)
            .values(consecutive_failures=0)
        )
        return ["delivered"] * len(run)

    def _head_of_line(self, sub_id: int) -> list[tuple[int, WebhookEvent, datetime]]:
        with self.database.session() as session:
            rows = session.scalars(
                select(WebhookDelivery)
                .where(
                    WebhookDelivery.subscription_id == sub_id,
                    WebhookDelivery.status == "pending",
                )
                .order_by(WebhookDelivery.event_time, WebhookDelivery.id)
                .limit(self.config.batch_size)
            )
            return [(d.id, event_of(d), d.next_attempt_at) for d in rows]

    def _record(
        self, session: Session, sub_id: int, delivery_id: int, outcome: AttemptOutcome
    ) -> str:
        now = utcnow()
        delivery = session.get(WebhookDelivery, delivery_id)
        sub = session.get(WebhookSubscription, sub_id)
        if delivery is None or sub is None:
            return "dead"  # deleted meanwhile
        session.add(
            WebhookAttempt(
                delivery_id=delivery.id,
                attempted_at=now,
                status_code=outcome.status_code,
                latency_ms=outcome.latency_ms,
                response_excerpt=outcome.excerpt,
                error=outcome.error,
            )
        )
        delivery.attempts += 1
        delivery.last_status_code = outcome.status_code
        delivery.last_error = outcome.error
        if outcome.ok:
            delivery.status, delivery.delivered_at = "delivered", now
            sub.consecutive_failures = 0
            return "delivered"
        sub.consecutive_failures += 1
        if sub.consecutive_failures >= self.config.pause_after and sub.paused_at is None:
            sub.paused_at = now
            sub.paused_reason = (
                f"{sub.consecutive_failures} consecutive failures; last: "
                f"{outcome.error or outcome.status_code}"
            )
            log.warning("webhook subscription %s paused: %s", sub.id, sub.paused_reason)
        too_old = now - delivery.event_time >= self.config.max_age
        if not outcome.retryable or too_old:
            delivery.status = "dead"
            return "dead"
        delivery.next_attempt_at = now + self._backoff(delivery.attempts, outcome.retry_after)
        return "retry"

    def _backoff(self, attempts: int, retry_after: float | None) -> timedelta:
        ceiling = min(
            self.config.backoff_max.total_seconds(),
            self.config.backoff_initial.total_seconds() * 2 ** (attempts - 1),
        )
        delay = ceiling * random.uniform(0.5, 1.0)  # jitter spreads retries of many events
        # A receiver's Retry-After is honoured, but never beyond our own longest wait.
        wait = min(max(delay, retry_after or 0.0), self.config.backoff_max.total_seconds())
        return timedelta(seconds=wait)

    def _release(self, sub_id: int) -> None:
        with self.database.session() as session:
            session.execute(
                update(WebhookSubscription)
                .where(
                    and_(
                        WebhookSubscription.id == sub_id,
                        WebhookSubscription.leased_by == self.worker_id,
                    )
                )
                .values(leased_by=None, lease_until=None)
            )


def config_from(settings: Settings) -> DeliveryConfig:
    return DeliveryConfig(
        concurrency=settings.webhook_concurrency,
        backoff_max=timedelta(seconds=settings.webhook_backoff_max),
        max_age=timedelta(seconds=settings.webhook_max_age),
        pause_after=settings.webhook_pause_after,
    )


def _allow_private(settings: Settings) -> bool | list[str]:
    allowed = list(settings.webhook_allow_private)
    return True if "all" in allowed else allowed


# A receiver that answers these is misconfigured (token, route), not refusing the event:
# keep retrying (and pause after repeated failures) instead of dead-lettering.
_FIXABLE_STATUSES = frozenset({401, 403, 404})


def _outcome(result: AttemptResult, error: str | None = None) -> AttemptOutcome:
    return AttemptOutcome(
        ok=result.ok and error is None,
        status_code=result.status_code,
        latency_ms=result.latency_ms,
        excerpt=result.response_excerpt or None,
        error=error or result.error,
        retryable=result.retryable or result.status_code in _FIXABLE_STATUSES,
        retry_after=result.retry_after,
    )


class Senders:
    """Renders an event in the subscription's format and sends it over HTTP or syslog."""

    def __init__(self, settings: Settings) -> None:
        allow = _allow_private(settings)
        self.allow = allow
        self.timeout = settings.webhook_timeout
        # One HTTP sender per target host, so its kept-alive connections (pooled by
        # IP) only ever carry requests for the name they were checked for.
        self.http: dict[str, HttpSender] = {}
        self.syslog = SyslogSender(
            allow_private=allow,
            timeout=settings.webhook_timeout,
            ca_file=settings.webhook_syslog_ca_file,
        )
        self.hostname = socket.gethostname()

    async def __call__(self, target: Target, event: WebhookEvent) -> AttemptOutcome:
        try:
            if target.format == "cef":
                frame = render_cef_syslog(event, self.hostname)
                return _outcome(await self.syslog.send(target.target, frame))
            if target.format == "splunk":
                spec = render_splunk(event, target.secrets[0], self.hostname)
            else:
                spec = render_json(event, target.secrets, utcnow())
            return _outcome(await self._http_for(target.target).send(target.target, spec))
        except DeliveryError as exc:
            if exc.result is None:
                return AttemptOutcome(ok=False, error=str(exc), retryable=exc.retryable)
            return _outcome(exc.result, str(exc))

    def _http_for(self, url: str) -> HttpSender:
        parts = urlsplit(url)
        key = f"{parts.scheme}://{parts.netloc.rpartition('@')[2]}"
        if key not in self.http:
            self.http[key] = HttpSender(allow_private=self.allow, timeout=self.timeout, keepalive=4)
        return self.http[key]

    async def aclose(self) -> None:
        for sender in self.http.values():
            await sender.aclose()


async def run_delivery_round(settings: Settings, database: Database) -> RunStats:
    """One round of the worker: what the scheduler runs every poll interval."""
    senders = Senders(settings)
    try:
        return await DeliveryWorker(database, senders, config_from(settings)).run_once()
    finally:
        await senders.aclose()


def delivery_job(settings: Settings, database: Database, drain_for: float = 10.0) -> None:
    """The scheduled job: rounds back to back while they deliver (a backlog drains at
    full speed, and new events wait at most one poll interval), then rest."""
    deadline = time.monotonic() + drain_for
    while True:
        try:
            stats = asyncio.run(run_delivery_round(settings, database))
        except Exception:
            log.exception("webhook delivery round failed")
            return
        if stats.failed or stats.dead:
            log.warning("webhook delivery: %s", stats)
        if not stats.delivered or time.monotonic() > deadline:
            return


def send_test(settings: Settings, sub: WebhookSubscription) -> ProbeResult:
    """Send a sample event to a subscription now, outside the queue, and report the answer."""
    from service.webhooks.service import active_secrets

    target = Target(sub.id, sub.target, sub.format, active_secrets(sub))

    async def once() -> AttemptOutcome:
        senders = Senders(settings)
        try:
            return await senders(target, sample_event(utcnow()))
        finally:
            await senders.aclose()

    outcome = asyncio.run(once())
    return ProbeResult(
        ok=outcome.ok,
        status_code=outcome.status_code,
        latency_ms=outcome.latency_ms,
        response_excerpt=outcome.excerpt,
        error=outcome.error,
    )

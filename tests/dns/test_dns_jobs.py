"""DNS jobs against the real knot server: enrichment events and the registration watch."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select, update

from service.alerts.models import Alert, AlertEvent, AlertSource
from service.alerts.service import Evidence, record
from service.config import Settings
from service.db import Database, utcnow
from service.ingest.dns_jobs import DnsJobs
from service.sources.dns.enrich import Enrichment
from service.sources.dns.resolver import Answer, State
from service.watch import service as watch
from service.watch.models import DnsSnapshot, WatchEntry
from service.webhooks.models import WebhookDelivery
from service.webhooks.schemas import WebhookCreate
from service.webhooks.service import create as subscribe
from tests.dns.conftest import ZONES, Soc
from tests.dns.server import KnotServer


def seed_alert(database: Database, brand_id: int, domain: str, score: int = 70) -> int:
    evidence = Evidence(
        brand_id=brand_id,
        domain=domain,
        registrable=domain,
        unicode=domain,
        score=score,
        reasons=[{"technique": "combosquatting", "detail": "test"}],
        source=AlertSource.CT,
    )
    with database.session() as session:
        return record(session, evidence)[0].id


def make_stale(database: Database) -> None:
    with database.session() as session:
        session.execute(update(Alert).values(dns_checked_at=utcnow() - timedelta(days=2)))


def events(database: Database, alert_id: int) -> list[dict[str, object]]:
    with database.session() as session:
        rows = session.scalars(
            select(AlertEvent)
            .where(AlertEvent.alert_id == alert_id, AlertEvent.kind == "evidence_added")
            .order_by(AlertEvent.id)
        )
        return [dict(e.data or {}) for e in rows]


def test_enrichment_records_snapshots_and_material_changes(
    jobs: DnsJobs, database: Database, brand_id: int, knot: KnotServer
) -> None:
    live = seed_alert(database, brand_id, "example-lookalike.test", score=70)
    changing = seed_alert(database, brand_id, "changing.test", score=70)
    knot.set_zone("changing.test.", "@ A 192.0.2.50\n")
    try:
        report = asyncio.run(jobs.enrich_due())
        assert (report.checked, report.changed, report.unknown) == (2, 2, 0)
        with database.session() as session:
            alert = session.get(Alert, live)
            assert alert is not None
            assert alert.dns_state == "resolves"
            assert alert.score == 70 + 5 + 10  # resolves, and has MX
            assert alert.severity == "high"  # 85
        assert events(database, live)[0]["changes"] == ["first_resolution", "mx_appeared"]

        # nothing changed: a re-check stores a snapshot but raises no event
        make_stale(database)
        asyncio.run(jobs.enrich_due())
        assert len(events(database, live)) == 1

        # the changing domain goes dark, then comes back with mail
        knot.set_zone("changing.test.", "www A 192.0.2.51\n")
        make_stale(database)
        asyncio.run(jobs.enrich_due())
        assert events(database, changing)[-1]["changes"] == ["went_dark"]
        knot.set_zone("changing.test.", "@ A 192.0.2.50\n@ MX 10 mail\nmail A 192.0.2.52\n")
        make_stale(database)
        asyncio.run(jobs.enrich_due())
        assert events(database, changing)[-1]["changes"] == ["first_resolution", "mx_appeared"]
        with database.session() as session:
            snapshots = session.scalar(
                select(func.count())
                .select_from(DnsSnapshot)
                .where(DnsSnapshot.alert_id == changing)
            )
        assert snapshots == 4
    finally:
        knot.set_zone("changing.test.", str(ZONES["changing.test."]))


def snapshot(
    a: State = "resolves",
    mx: State = "nodata",
    ns: tuple[str, ...] | None = ("ns1.other.net.",),
    aaaa: State | None = None,
) -> Enrichment:
    """A look at paypa1.com; `ns=None` is an NS lookup that timed out; AAAA follows A."""

    def answer(rdtype: str, state: State, records: tuple[str, ...] = ()) -> Answer:
        return Answer("paypa1.com", rdtype, state, records if state == "resolves" else ())

    return Enrichment(
        "paypa1.com",
        "paypa1.com",
        datetime.now(UTC),
        {
            "A": answer("A", a, ("192.0.2.1",)),
            "AAAA": answer("AAAA", aaaa or ("nodata" if a == "resolves" else a)),
            "MX": answer("MX", mx, ("10 mx.paypa1.com.",)),
            "NS": answer("NS", "unknown" if ns is None else "resolves", ns or ()),
        },
    )


def test_each_lookup_is_compared_with_its_own_last_known_answer(
    settings: Settings, database: Database, brand_id: int
) -> None:
    """Timeouts on some lookups are no change; the score carries the last known state's boost."""
    jobs = DnsJobs(settings, database)
    alert_id = seed_alert(database, brand_id, "paypa1.com", score=70)
    with database.session() as session:
        subscribe(session, WebhookCreate(name="soc", target="https://siem.example/hook"))
    brand_ns = ("ns1.paypal.com.",)
    steps: list[tuple[Enrichment, list[str], int]] = [
        (snapshot(ns=brand_ns), ["first_resolution", "brand_nameservers"], 70 + 5 - 30),
        (snapshot(mx="unknown", ns=None), [], 45),  # NS and MX time out
        # compared with the brand's NS of the first look, not with the timeout
        (snapshot(), ["ns_changed", "left_brand_nameservers"], 75),
        (snapshot(mx="resolves"), ["mx_appeared"], 85),
        (snapshot(mx="unknown"), [], 85),
        (snapshot(mx="resolves"), [], 85),  # the MX was known: not news, no boost again
        (snapshot(a="unknown", mx="resolves"), [], 85),
        (snapshot(a="nxdomain", mx="resolves"), ["went_dark"], 80),
        (snapshot(a="resolves", mx="resolves"), ["first_resolution"], 85),
        (snapshot(mx="nodata"), ["mx_gone"], 75),
        # A gone, AAAA unanswered but last known empty: dark, and the boost goes with it
        (snapshot(a="nxdomain", aaaa="unknown"), ["went_dark"], 70),
        (snapshot(a="nxdomain", aaaa="nxdomain"), [], 70),
    ]
    for number, (seen, changes, score) in enumerate(steps, 1):
        assert jobs._store(alert_id, seen) == changes, number
        with database.session() as session:
            alert = session.get(Alert, alert_id)
            assert alert is not None
            assert alert.score == score, number
    assert [e["changes"] for e in events(database, alert_id)] == [c for _, c, _ in steps if c]
    with database.session() as session:  # each snapshot keeps all its changes
        stored = session.scalars(
            select(DnsSnapshot.changes)
            .where(DnsSnapshot.alert_id == alert_id)
            .order_by(DnsSnapshot.id)
        )
        assert list(stored) == [c for _, c, _ in steps]
    # Each change re-notifies: one alert.updated delivery carrying it, none for the rest.
    with database.session() as session:
        queued = session.scalars(
            select(WebhookDelivery)
            .where(WebhookDelivery.event_type == "alert.updated")
            .order_by(WebhookDelivery.id)
        )
        notified = [d.data["event"]["data"]["changes"] for d in queued]
    assert notified == [c for _, c, _ in steps if c]


def test_a_long_run_of_unanswered_looks_forgets_nothing(
    settings: Settings, database: Database, brand_id: int
) -> None:
    jobs = DnsJobs(settings, database)
    alert_id = seed_alert(database, brand_id, "paypa1.com", score=70)
    assert jobs._store(alert_id, snapshot(mx="resolves")) == ["first_resolution", "mx_appeared"]
    silent = snapshot(a="unknown", mx="unknown", ns=None)
    for _ in range(30):
        assert jobs._store(alert_id, silent) == []
    assert jobs._store(alert_id, snapshot(mx="resolves")) == []  # not news: seen 31 looks ago
    with database.session() as session:
        alert = session.get(Alert, alert_id)
        assert alert is not None
        assert alert.score == 70 + 5 + 10


def test_the_first_answered_ns_lookup_counts_like_a_first_check(
    settings: Settings, database: Database, brand_id: int
) -> None:
    jobs = DnsJobs(settings, database)
    alert_id = seed_alert(database, brand_id, "paypa1.com", score=70)
    assert jobs._store(alert_id, snapshot(ns=None)) == ["first_resolution"]
    brand_ns = snapshot(ns=("ns1.paypal.com.",))
    assert jobs._store(alert_id, brand_ns) == ["brand_nameservers"]
    assert jobs._store(alert_id, brand_ns) == []  # taken once
    with database.session() as session:
        alert = session.get(Alert, alert_id)
        assert alert is not None
        assert alert.score == 70 + 5 - 30


def test_a_lookalike_on_the_brands_own_nameservers_drops_and_rises_when_it_leaves(
    jobs: DnsJobs, database: Database, brand_id: int, knot: KnotServer
) -> None:
    """paypal.de answered by ns1.paypal.com is PayPal's own; moving away is a transfer."""
    alert_id = seed_alert(database, brand_id, "changing.test", score=70)

    def score() -> int:
        with database.session() as session:
            alert = session.get(Alert, alert_id)
            assert alert is not None
            return alert.score

    brand_ns = "@ NS ns1.paypal.com.\n@ NS ns2.paypal.com.\n@ A 192.0.2.50\n"
    knot.set_zone("changing.test.", brand_ns)
    try:
        asyncio.run(jobs.enrich_due())
        first = events(database, alert_id)[-1]
        assert first["changes"] == ["first_resolution", "brand_nameservers"]
        assert first["dns"]["brand_nameservers"] == ["ns1.paypal.com", "ns2.paypal.com"]  # type: ignore[index]
        assert score() == 70 + 5 - 30

        make_stale(database)  # re-checked unchanged: the penalty is not taken twice
        asyncio.run(jobs.enrich_due())
        assert len(events(database, alert_id)) == 1
        assert score() == 45

        knot.set_zone("changing.test.", "@ A 192.0.2.50\n")  # its own nameserver now
        make_stale(database)
        asyncio.run(jobs.enrich_due())
        assert events(database, alert_id)[-1]["changes"] == ["ns_changed", "left_brand_nameservers"]
        assert score() == 75
    finally:
        knot.set_zone("changing.test.", str(ZONES["changing.test."]))


def test_a_watched_name_that_gets_registered_alerts_and_notifies(
    jobs: DnsJobs, database: Database, brand_id: int, knot: KnotServer, soc: Soc
) -> None:
    try:
        with database.session() as session:
            (entry,) = watch.add_names(session, brand_id, ["paypal-verify.regtest"])
            entry_id = entry.id
        first = asyncio.run(jobs.check_watchlists())
        assert (first.checked, first.registered, first.alerts) == (1, 0, 0)
        with database.session() as session:
            row = session.get(WatchEntry, entry_id)
            assert row is not None
            assert row.state == "free"
            row.next_check_at = utcnow()

        knot.set_zone("regtest.", "ns1 A 127.0.0.1\npaypal-verify NS ns1.elsewhere.example.\n")
        second = asyncio.run(jobs.check_watchlists())
        assert (second.checked, second.registered, second.alerts) == (1, 1, 1)

        soc.deliver()
        (delivery,) = soc.receiver.accepted
        alert = delivery.payload["data"]["alert"]
        assert delivery.payload["type"] == "alert.created"
        assert alert["domain"] == "paypal-verify.regtest"
        assert alert["source"] == "dns"
        assert "registration_watch" in alert["techniques"]
    finally:
        knot.set_zone("regtest.", str(ZONES["regtest."]))


def test_the_scheduler_builds_dns_jobs_from_settings(jobs: DnsJobs, database: Database) -> None:
    from service.worker import build_scheduler

    ids = {job.id for job in build_scheduler(jobs.settings, database).get_jobs()}
    assert {"dns-enrich", "dns-watch", "dns-watch-refresh", "webhook-delivery"} <= ids
    off = jobs.settings.model_copy(update={"dns_enabled": False})
    assert "dns-enrich" not in {job.id for job in build_scheduler(off, database).get_jobs()}


def test_a_watch_check_that_fails_keeps_the_state_and_says_why(
    jobs: DnsJobs, database: Database, brand_id: int
) -> None:
    with database.session() as session:
        entry = WatchEntry(brand_id=brand_id, domain="co.uk", unicode="co.uk", origin="user")
        session.add(entry)
        session.flush()
        entry_id = entry.id
    report = asyncio.run(jobs.check_watchlists())
    assert (report.checked, report.registered, report.alerts) == (1, 0, 0)
    with database.session() as session:
        row = session.get(WatchEntry, entry_id)
        assert row is not None
        assert row.state == "unknown"
        assert row.last_checked_at is not None
        assert row.last_detail == "DnsError: 'co.uk' is a public suffix, not a registrable domain"


def test_a_claimed_alert_is_skipped_until_the_claim_lapses_and_keeps_its_times(
    jobs: DnsJobs, database: Database, brand_id: int
) -> None:
    alert_id = seed_alert(database, brand_id, "paypa1.com")
    with database.session() as session:
        before = session.get(Alert, alert_id)
        assert before is not None
        updated_at = before.updated_at
    assert jobs._due_alerts(10) == [(alert_id, "paypa1.com")]
    # another worker (or the next round) finds nothing to do while the claim holds
    assert jobs._due_alerts(10) == []
    with database.session() as session:
        held = session.get(Alert, alert_id)
        assert held is not None
        # the claim says nothing about DNS, nor changes the alert
        assert held.dns_checked_at is None
        assert held.updated_at == updated_at
        assert held.dns_claimed_until is not None
        held.dns_claimed_until = utcnow() - timedelta(seconds=1)  # the worker died
    assert jobs._due_alerts(10) == [(alert_id, "paypa1.com")]
    jobs._store(alert_id, snapshot())
    with database.session() as session:
        done = session.get(Alert, alert_id)
        assert done is not None
        assert (done.dns_state, done.dns_claimed_until) == ("resolves", None)
        assert done.dns_checked_at is not None
    assert jobs._due_alerts(10) == []  # checked: due again after the recheck interval

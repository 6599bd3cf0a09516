"""A watched name that changes hands (registered, dropped, registered again) notifies each time."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select, update

from service.alerts.models import Alert, AlertEvent, AlertStatus
from service.alerts.service import change_status
from service.db import Database, utcnow
from service.ingest.dns_jobs import DnsJobs
from service.watch import service as watch
from service.watch.models import WatchEntry
from service.webhooks.events import isoformat
from service.webhooks.models import WebhookDelivery
from tests.dns.conftest import ZONES, Soc
from tests.dns.server import KnotServer

NAME = "paypal-secure.regtest"
HOUR = timedelta(hours=1)


def check_now(jobs: DnsJobs, database: Database) -> tuple[int, int, int]:
    """Make every watched name due and run the watch job once: (checked, registered, alerts)."""
    with database.session() as session:
        session.execute(update(WatchEntry).values(next_check_at=utcnow()))
    report = asyncio.run(jobs.check_watchlists())
    return report.checked, report.registered, report.alerts


def alert_events(database: Database) -> list[tuple[str, dict[str, Any]]]:
    with database.session() as session:
        rows = session.scalars(select(AlertEvent).order_by(AlertEvent.id))
        return [(e.kind, dict(e.data or {})) for e in rows]


def outbox(database: Database) -> list[tuple[str, str]]:
    with database.session() as session:
        rows = session.scalars(select(WebhookDelivery).order_by(WebhookDelivery.id))
        return [(d.event_type, d.event_id) for d in rows]


def entry_row(database: Database, entry_id: int) -> WatchEntry:
    with database.session() as session:
        row = session.get(WatchEntry, entry_id)
        assert row is not None
        session.expunge(row)
        return row


def test_a_name_registered_dropped_and_registered_again_notifies_twice(
    jobs: DnsJobs, database: Database, brand_id: int, knot: KnotServer, soc: Soc
) -> None:
    receiver = soc.receiver
    try:
        with database.session() as session:
            (entry,) = watch.add_names(session, brand_id, [NAME])
            entry_id = entry.id

        assert check_now(jobs, database) == (1, 0, 0)  # free
        knot.set_zone("regtest.", "ns1 A 127.0.0.1\npaypal-secure NS ns1.first-owner.example.\n")
        assert check_now(jobs, database) == (1, 1, 1)  # registered: the alert is created
        assert [kind for kind, _ in alert_events(database)] == ["created"]

        knot.set_zone("regtest.", str(ZONES["regtest."]))
        assert check_now(jobs, database) == (1, 0, 0)  # dropped
        dropped = entry_row(database, entry_id)
        assert dropped.state == "free"
        assert dropped.free_since is not None
        assert dropped.free_since == dropped.free_until
        first_registration = dropped.registered_at
        assert first_registration is not None

        knot.set_zone("regtest.", "ns1 A 127.0.0.1\npaypal-secure NS ns1.new-owner.example.\n")
        assert check_now(jobs, database) == (1, 1, 1)
        events = alert_events(database)
        assert [kind for kind, _ in events] == ["created", "evidence_added"]
        data = events[1][1]
        assert data["changes"] == ["re_registered"]
        assert data["watch_entry"] == entry_id
        assert data["free_since"] == data["free_until"]
        assert data["free_since"] == isoformat(dropped.free_since)
        (reason,) = data["reasons"]
        assert reason["technique"] == "registration_watch"
        assert reason["change"] == "re_registered"
        assert "registered again" in reason["detail"]
        registered = entry_row(database, entry_id)
        assert registered.registered_at is not None
        assert registered.registered_at > first_registration
        # the spell is over: the next drop starts a new one
        assert (registered.free_since, registered.free_until) == (None, None)

        # both events are in the outbox, written in the transactions that made them
        assert [event_type for event_type, _ in outbox(database)] == [
            "alert.created",
            "alert.updated",
        ]

        soc.deliver()
        assert [d.payload["type"] for d in receiver.accepted] == ["alert.created", "alert.updated"]
        updated = receiver.accepted[1].payload["data"]
        assert updated["alert"]["domain"] == NAME
        assert updated["event"]["data"]["changes"] == ["re_registered"]

        # a third owner is news again: the reason differs from every earlier one
        knot.set_zone("regtest.", str(ZONES["regtest."]))
        assert check_now(jobs, database) == (1, 0, 0)
        knot.set_zone("regtest.", "ns1 A 127.0.0.1\npaypal-secure NS ns1.third-owner.example.\n")
        assert check_now(jobs, database) == (1, 1, 1)
        assert [kind for kind, _ in alert_events(database)][-1] == "evidence_added"
        assert len(alert_events(database)) == 3
        assert len(outbox(database)) == 3
        with database.session() as session:
            (alert,) = session.scalars(select(Alert))
            watch_reasons = [r for r in alert.reasons if r["technique"] == "registration_watch"]
        assert len(watch_reasons) == 3
        assert len({r["detail"] for r in watch_reasons}) == 3
    finally:
        knot.set_zone("regtest.", str(ZONES["regtest."]))


def test_the_free_spell_spans_unknown_checks_and_staying_registered_is_quiet(
    database: Database, brand_id: int
) -> None:
    with database.session() as session:
        (entry,) = watch.add_names(session, brand_id, ["paypal-billing.com"])
        entry_id = entry.id
    for state in ("free", "registered", "registered", "free", "unknown", "free"):
        with database.session() as session:
            watch.record_check(session, entry_id, state, None, HOUR)
    spell = entry_row(database, entry_id)
    assert spell.state == "free"
    assert spell.free_since is not None
    assert spell.free_until is not None
    # the unknown check did not end the spell; the second free check extended it
    assert spell.free_since < spell.free_until
    assert spell.last_checked_at == spell.free_until

    with database.session() as session:
        alert = watch.record_check(session, entry_id, "registered", "SOA", HOUR)
        assert alert is not None
    with database.session() as session:
        # still registered: nothing new to say
        assert watch.record_check(session, entry_id, "registered", "SOA", HOUR) is None
    events = alert_events(database)
    assert [kind for kind, _ in events] == ["created", "evidence_added"]
    data = events[1][1]
    assert data["changes"] == ["re_registered"]
    assert (data["free_since"], data["free_until"]) == (
        isoformat(spell.free_since),
        isoformat(spell.free_until),
    )
    assert data["free_since"] in data["reasons"][0]["detail"]


def test_a_name_registered_at_the_first_look_alerts_once_it_comes_back(
    database: Database, brand_id: int
) -> None:
    """Registered before watching began, then dropped: its next registration is the first seen."""
    with database.session() as session:
        (entry,) = watch.add_names(session, brand_id, ["paypal-wallet.com"])
        entry_id = entry.id
    for state in ("registered", "free"):
        with database.session() as session:
            assert watch.record_check(session, entry_id, state, None, HOUR) is None
    with database.session() as session:
        assert watch.record_check(session, entry_id, "registered", None, HOUR) is not None
    ((kind, data),) = alert_events(database)
    assert kind == "created"
    assert "changes" not in data


@pytest.mark.parametrize("closed", [AlertStatus.RESOLVED, AlertStatus.FALSE_POSITIVE])
def test_a_re_registration_reopens_a_closed_alert(
    database: Database, brand_id: int, closed: AlertStatus
) -> None:
    with database.session() as session:
        (entry,) = watch.add_names(session, brand_id, ["paypal-refunds.com"])
        entry_id = entry.id
    for state in ("free", "registered"):
        with database.session() as session:
            watch.record_check(session, entry_id, state, None, HOUR)
    with database.session() as session:
        (alert,) = session.scalars(select(Alert))
        if closed is AlertStatus.RESOLVED:
            for step in (AlertStatus.CONFIRMED, AlertStatus.RESOLVED):
                change_status(session, alert, step, "analyst", None)
        else:
            change_status(session, alert, closed, "analyst", "the brand's own")
    for state in ("free", "registered"):
        with database.session() as session:
            watch.record_check(session, entry_id, state, None, HOUR)
    with database.session() as session:
        (alert,) = session.scalars(select(Alert))
        assert alert.status == AlertStatus.NEW.value
        last = session.scalars(select(AlertEvent).order_by(AlertEvent.id.desc())).first()
        assert last is not None
        assert (last.kind, last.actor, last.from_status, last.to_status) == (
            "status_changed",
            "system",
            closed.value,
            "new",
        )

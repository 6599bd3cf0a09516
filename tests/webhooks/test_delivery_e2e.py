"""Alert events to real receivers over sockets: outbox, worker, ordering, retries, crashes."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, update

from service.config import Settings
from service.db import Database
from service.webhooks.delivery import DeliveryConfig, DeliveryWorker, RunStats, Senders
from service.webhooks.formats import verify
from service.webhooks.models import WebhookDelivery
from tests.api.test_alerts import make_brand
from tests.api.test_auth import assert_problem
from tests.webhooks.conftest import LOOPBACK
from tests.webhooks.receivers import HttpReceiver, SyslogTcpReceiver, SyslogUdpReceiver

FAST = DeliveryConfig(backoff_initial=timedelta(0), backoff_max=timedelta(0))


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """The test settings, allowing webhooks to loopback receivers."""
    return settings.model_copy(update={"webhook_allow_private": LOOPBACK})


def deliver(settings: Settings, database: Database, config: DeliveryConfig = FAST) -> RunStats:
    async def once() -> RunStats:
        senders = Senders(settings)
        try:
            return await DeliveryWorker(database, senders, config).run_once()
        finally:
            await senders.aclose()

    return asyncio.run(once())


def subscribe(
    client: TestClient, headers: dict[str, str], target: str, **extra: Any
) -> dict[str, Any]:
    response = client.post(
        "/v1/webhooks", json={"name": "soc", "target": target, **extra}, headers=headers
    )
    assert response.status_code == 201, response.text
    return dict(response.json())


def hook(
    client: TestClient, headers: dict[str, str], receiver: HttpReceiver, **extra: Any
) -> dict[str, Any]:
    """Subscribe a receiver and teach it the subscription's signing secret."""
    sub = subscribe(client, headers, receiver.url, **extra)
    receiver.secrets = [sub["secret"]]
    return sub


def report(client: TestClient, headers: dict[str, str], brand_id: int, domain: str) -> int:
    response = client.post(
        "/v1/alerts", json={"brand_id": brand_id, "domain": domain}, headers=headers
    )
    assert response.status_code == 201, response.text
    return int(response.json()["id"])


def test_signed_json_events_arrive_in_order(
    client: TestClient,
    database: Database,
    settings: Settings,
    admin_headers: dict[str, str],
    http_receiver: HttpReceiver,
) -> None:
    sub = hook(client, admin_headers, http_receiver)
    assert sub["secret"].startswith("whsec_")
    assert "secret" not in client.get(f"/v1/webhooks/{sub['id']}", headers=admin_headers).json()

    brand_id = make_brand(client, admin_headers)
    alert_id = report(client, admin_headers, brand_id, "paypa1.com")
    client.post(f"/v1/alerts/{alert_id}/status", json={"status": "triaged"}, headers=admin_headers)
    stats = deliver(settings, database)
    assert stats.delivered == 2
    accepted = http_receiver.accepted
    assert [d.payload["type"] for d in accepted] == ["alert.created", "alert.status_changed"]
    assert all(d.verified for d in accepted)
    first = accepted[0].payload
    assert first["data"]["alert"]["domain"] == "paypa1.com"
    assert first["version"]
    assert accepted[0].id == first["id"]
    assert verify(accepted[0].body, accepted[0].headers, sub["secret"])["id"] == first["id"]
    assert deliver(settings, database).delivered == 0  # nothing left

    deliveries = client.get(f"/v1/webhooks/{sub['id']}/deliveries", headers=admin_headers).json()
    assert {d["status"] for d in deliveries} == {"delivered"}
    assert all(d["attempt_log"][0]["status_code"] == 200 for d in deliveries)


def test_filters_choose_what_a_subscriber_hears(
    client: TestClient,
    database: Database,
    settings: Settings,
    admin_headers: dict[str, str],
    http_receiver: HttpReceiver,
) -> None:
    paypal = make_brand(client, admin_headers)
    acme = make_brand(client, admin_headers, "Acme", "acme.com")
    hook(
        client,
        admin_headers,
        http_receiver,
        brand_ids=[paypal],
        min_severity="high",
        event_types=["alert.created"],
    )
    report(client, admin_headers, paypal, "paypa1.com")  # high: delivered
    report(client, admin_headers, paypal, "example-unrelated.org")  # score 0: filtered out
    report(client, admin_headers, acme, "acrne.com")  # other brand: filtered out
    deliver(settings, database)
    assert [d.payload["data"]["alert"]["domain"] for d in http_receiver.accepted] == ["paypa1.com"]


def test_failures_retry_in_order_then_dead_letter_and_redeliver(
    client: TestClient,
    database: Database,
    settings: Settings,
    admin_headers: dict[str, str],
    http_receiver: HttpReceiver,
) -> None:
    sub = hook(client, admin_headers, http_receiver)
    brand_id = make_brand(client, admin_headers)
    for domain in ("paypa1.com", "paypal-login.com", "pаypal.com"):
        report(client, admin_headers, brand_id, domain)

    http_receiver.fail_next(2, status=503)
    first = deliver(settings, database)
    # the oldest event failed: the later ones wait behind it (order per subscription)
    assert (first.delivered, first.failed) == (0, 1)
    second = deliver(settings, database)
    assert (second.delivered, second.failed) == (0, 1)
    third = deliver(settings, database)
    assert third.delivered == 3
    domains = [d.payload["data"]["alert"]["domain"] for d in http_receiver.accepted]
    assert domains == ["paypa1.com", "paypal-login.com", "xn--pypal-4ve.com"]

    # 410 Gone is final: dead at once; redelivery sends it again with the same id
    report(client, admin_headers, brand_id, "paypal-verify.com")
    http_receiver.fail_next(1, status=410)
    assert deliver(settings, database).dead == 1
    dead = client.get(f"/v1/webhooks/{sub['id']}/deliveries?status=dead", headers=admin_headers)
    (gone,) = dead.json()
    assert gone["attempt_log"][0]["status_code"] == 410
    queued = client.post(f"/v1/webhooks/{sub['id']}/redeliver", json={}, headers=admin_headers)
    assert queued.json() == {"queued": 1}
    assert deliver(settings, database).delivered == 1
    assert http_receiver.accepted[-1].id == gone["event_id"]


def test_old_events_are_dead_lettered(
    client: TestClient,
    database: Database,
    settings: Settings,
    admin_headers: dict[str, str],
    http_receiver: HttpReceiver,
) -> None:
    hook(client, admin_headers, http_receiver)
    report(client, admin_headers, make_brand(client, admin_headers), "paypa1.com")
    http_receiver.fail_next(1, status=500)
    config = DeliveryConfig(max_age=timedelta(0))
    assert deliver(settings, database, config).dead == 1


def test_repeated_failures_pause_and_resume(
    client: TestClient,
    database: Database,
    settings: Settings,
    admin_headers: dict[str, str],
    http_receiver: HttpReceiver,
) -> None:
    sub = hook(client, admin_headers, http_receiver)
    report(client, admin_headers, make_brand(client, admin_headers), "paypa1.com")
    http_receiver.fail_next(3, status=500)
    config = DeliveryConfig(backoff_initial=timedelta(0), pause_after=3)
    for _ in range(3):
        deliver(settings, database, config)
    state = client.get(f"/v1/webhooks/{sub['id']}", headers=admin_headers).json()
    assert state["paused_at"] is not None
    assert "3 consecutive failures" in state["paused_reason"]
    assert deliver(settings, database, config).subscriptions == 0  # paused: not claimed
    client.patch(f"/v1/webhooks/{sub['id']}", json={"resume": True}, headers=admin_headers)
    assert deliver(settings, database, config).delivered == 1


def test_a_worker_killed_mid_batch_loses_nothing(
    client: TestClient,
    database: Database,
    settings: Settings,
    admin_headers: dict[str, str],
    http_receiver: HttpReceiver,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    hook(client, admin_headers, http_receiver)
    brand_id = make_brand(client, admin_headers)
    for i in range(5):
        report(client, admin_headers, brand_id, f"paypal-login{i}.com")

    real_record = DeliveryWorker._record_many

    def die_while_recording(self: DeliveryWorker, *args: Any) -> list[str]:
        raise SystemExit("worker killed")  # sent, but the process died before recording

    monkeypatch.setattr(DeliveryWorker, "_record_many", die_while_recording)
    crashed = DeliveryConfig(lease=timedelta(0))  # its lease is over at once, as after a timeout
    with pytest.raises(SystemExit):
        deliver(settings, database, crashed)
    sent_before_crash = set(http_receiver.ids)
    assert sent_before_crash
    monkeypatch.setattr(DeliveryWorker, "_record_many", real_record)
    deliver(settings, database)
    ids = [d.id for d in http_receiver.accepted]
    assert len(set(ids)) == 5, "an event was lost"
    # what was sent but not recorded before the crash came again, with the same id
    assert set(http_receiver.duplicates) == sent_before_crash
    with database.session() as session:
        states = set(session.scalars(select(WebhookDelivery.status)))
    assert states == {"delivered"}


def test_a_receiver_that_vanishes_gets_the_event_again_with_the_same_id(
    client: TestClient,
    database: Database,
    settings: Settings,
    admin_headers: dict[str, str],
    http_receiver: HttpReceiver,
) -> None:
    hook(client, admin_headers, http_receiver)
    report(client, admin_headers, make_brand(client, admin_headers), "paypa1.com")
    http_receiver.drop_next(1)  # processes it, then dies before answering
    assert deliver(settings, database).failed == 1
    assert deliver(settings, database).delivered == 1
    assert len(http_receiver.ids) == 1
    assert http_receiver.duplicates == http_receiver.ids


def test_splunk_and_cef_over_syslog(
    client: TestClient,
    database: Database,
    settings: Settings,
    admin_headers: dict[str, str],
    tcp_receiver: SyslogTcpReceiver,
    udp_receiver: SyslogUdpReceiver,
) -> None:
    splunk = HttpReceiver(splunk_token="hec-token-1")
    splunk.start()
    try:
        subscribe(client, admin_headers, splunk.url, format="splunk", splunk_token="hec-token-1")
        subscribe(client, admin_headers, tcp_receiver.url, format="cef")
        subscribe(client, admin_headers, udp_receiver.start(), format="cef")
        report(client, admin_headers, make_brand(client, admin_headers), "paypa1.com")
        assert deliver(settings, database).delivered == 3
        (hec,) = splunk.accepted
        assert hec.headers["authorization"] == "Splunk hec-token-1"
        assert hec.payload["event"]["data"]["alert"]["domain"] == "paypa1.com"
        assert tcp_receiver.wait_for(1)
        assert udp_receiver.wait_for(1)
        for receiver in (tcp_receiver, udp_receiver):
            (cef,) = receiver.cef
            assert cef["extension"]["dhost"] == "paypa1.com"
    finally:
        splunk.stop()


def test_subscription_api(
    client: TestClient,
    database: Database,
    settings: Settings,
    admin_headers: dict[str, str],
    write_headers: dict[str, str],
    http_receiver: HttpReceiver,
) -> None:
    assert_problem(client.get("/v1/webhooks", headers=write_headers), 403, "forbidden")
    for bad in (
        {"target": "https://siem.example/hook", "format": "cef"},
        {"target": "tcp://siem.example:514", "format": "json"},
        {"target": "tcp://siem.example", "format": "cef"},
        {"target": "ftp://x.example/", "format": "json"},
        {"target": "https://siem.example/", "format": "splunk"},
    ):
        assert_problem(
            client.post("/v1/webhooks", json={"name": "x", **bad}, headers=admin_headers),
            422,
            "validation",
        )
    sub = hook(client, admin_headers, http_receiver)
    probe = client.post(f"/v1/webhooks/{sub['id']}/test", headers=admin_headers).json()
    assert probe["ok"] is True
    assert probe["status_code"] == 200
    assert http_receiver.accepted[-1].payload["type"] == "alert.created"

    rotated = client.post(
        f"/v1/webhooks/{sub['id']}/rotate-secret",
        json={"overlap_seconds": 600},
        headers=admin_headers,
    ).json()
    # during the overlap both secrets sign: receivers on either keep verifying
    client.post(f"/v1/webhooks/{sub['id']}/test", headers=admin_headers)
    last = http_receiver.received[-1]
    assert verify(last.body, last.headers, sub["secret"])
    assert verify(last.body, last.headers, rotated["secret"])

    patched = client.patch(
        f"/v1/webhooks/{sub['id']}", json={"min_score": 80, "enabled": False}, headers=admin_headers
    ).json()
    assert (patched["min_score"], patched["enabled"]) == (80, False)
    assert client.delete(f"/v1/webhooks/{sub['id']}", headers=admin_headers).status_code == 204
    assert_problem(client.get(f"/v1/webhooks/{sub['id']}", headers=admin_headers), 404, "not-found")


def test_private_targets_are_refused_by_default(
    settings: Settings,
    database: Database,
    admin_headers: dict[str, str],
    http_receiver: HttpReceiver,
) -> None:
    from service.app import create_app

    strict = settings.model_copy(update={"webhook_allow_private": []})
    with TestClient(create_app(strict, database)) as client:
        sub = hook(client, admin_headers, http_receiver)
        probe = client.post(f"/v1/webhooks/{sub['id']}/test", headers=admin_headers).json()
    assert probe["ok"] is False
    assert "127.0.0.1" in probe["error"]
    assert http_receiver.received == []


def test_unhealthy_ct_log_is_announced(
    client: TestClient,
    database: Database,
    settings: Settings,
    admin_headers: dict[str, str],
    http_receiver: HttpReceiver,
) -> None:
    from service.ctlogs.models import CtLog
    from service.ctlogs.service import mark_unhealthy

    hook(client, admin_headers, http_receiver, event_types=["source.unhealthy"])
    with database.session() as session:
        log = CtLog(
            log_id="aWQ=",
            name="Bad Log",
            operator="x",
            protocol="rfc6962",
            url="https://ct.example/",
            key="a2V5",
            list_state="usable",
        )
        session.add(log)
        session.flush()
        mark_unhealthy(session, log.id, "root mismatch at 1000")
        mark_unhealthy(session, log.id, "root mismatch at 1000")  # announced once
    assert deliver(settings, database).delivered == 1
    (event,) = http_receiver.accepted
    assert event.payload["type"] == "source.unhealthy"
    assert event.payload["data"]["source"]["name"] == "Bad Log"


def test_scheduled_delivery_uses_the_settings(
    client: TestClient,
    database: Database,
    settings: Settings,
    admin_headers: dict[str, str],
    http_receiver: HttpReceiver,
) -> None:
    from service.webhooks.delivery import delivery_job

    hook(client, admin_headers, http_receiver)
    report(client, admin_headers, make_brand(client, admin_headers), "paypa1.com")
    with database.session() as session:
        session.execute(update(WebhookDelivery).values(next_attempt_at=WebhookDelivery.created_at))
    delivery_job(settings, database)
    assert len(http_receiver.accepted) == 1


def test_a_hostile_retry_after_neither_breaks_nor_blocks_others(
    client: TestClient,
    database: Database,
    settings: Settings,
    admin_headers: dict[str, str],
    http_receiver: HttpReceiver,
) -> None:
    other = HttpReceiver()
    other.start()
    try:
        bad = subscribe(client, admin_headers, http_receiver.url)
        good = subscribe(client, admin_headers, other.url)
        http_receiver.secrets, other.secrets = [bad["secret"]], [good["secret"]]
        report(client, admin_headers, make_brand(client, admin_headers), "paypa1.com")
        http_receiver.fail_next(1, status=503, retry_after=10**12)
        stats = deliver(settings, database, DeliveryConfig())
        assert (stats.delivered, stats.failed) == (1, 1)
        assert len(other.accepted) == 1
        (pending,) = client.get(
            f"/v1/webhooks/{bad['id']}/deliveries", headers=admin_headers
        ).json()
        assert pending["status"] == "pending"  # retried later, capped at the longest backoff
    finally:
        other.stop()


def test_a_worker_that_lost_its_lease_records_nothing(
    client: TestClient,
    database: Database,
    settings: Settings,
    admin_headers: dict[str, str],
    http_receiver: HttpReceiver,
) -> None:
    from service.webhooks.models import WebhookSubscription

    hook(client, admin_headers, http_receiver)
    report(client, admin_headers, make_brand(client, admin_headers), "paypa1.com")

    async def send_then_lose_lease(target: Any, event: Any) -> Any:
        outcome = await senders(target, event)
        with database.session() as session:  # another worker takes over meanwhile
            session.execute(update(WebhookSubscription).values(leased_by="someone-else"))
        return outcome

    async def once() -> RunStats:
        return await DeliveryWorker(database, send_then_lose_lease, FAST).run_once()

    senders = Senders(settings)
    try:
        stats = asyncio.run(once())
    finally:
        asyncio.run(senders.aclose())
    assert stats.delivered == 0
    with database.session() as session:
        assert set(session.scalars(select(WebhookDelivery.status))) == {"pending"}


def test_patch_rejects_nulls(
    client: TestClient, admin_headers: dict[str, str], http_receiver: HttpReceiver
) -> None:
    sub = subscribe(client, admin_headers, http_receiver.url, min_severity="high")
    url = f"/v1/webhooks/{sub['id']}"
    for field in ("name", "target", "event_types"):
        assert_problem(
            client.patch(url, json={field: None}, headers=admin_headers), 422, "validation"
        )
    cleared = client.patch(url, json={"min_severity": None}, headers=admin_headers).json()
    assert cleared["min_severity"] is None

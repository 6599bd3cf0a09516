"""Phantom squatting end to end: an LLM invents a name, it gets registered, a SIEM hears of it.

Real servers throughout: a fake OpenAI-compatible LLM over HTTP, knot serving DNS,
a webhook receiver over a socket.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update

from service.app import create_app
from service.config import PhantomEndpointSetting, Settings
from service.db import Database
from service.ingest.dns_jobs import DnsJobs
from service.phantom import service as phantom
from service.watch.models import WatchEntry
from service.webhooks.delivery import DeliveryConfig, DeliveryWorker, Senders
from tests.dns.conftest import ZONES
from tests.dns.server import KnotServer
from tests.phantom.fake_llm import FakeLlm
from tests.webhooks.receivers import HttpReceiver

ANSWER = (
    "You can sign in to Acme at [the portal](https://login.acme-portal.co.uk/signin). "
    "API documentation lives at https://docs.acme.com/api, and status updates at "
    "`status.acme-status.co.uk`. Download the app from https://apps.apple.com/app/acme."
)


@pytest.fixture
def llm() -> Iterator[FakeLlm]:
    server = FakeLlm(brand="Acme", responder=lambda model, prompt, i: ANSWER)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def phantom_settings(settings: Settings, llm: FakeLlm, knot: KnotServer) -> Settings:
    base_url = llm.start()
    return settings.model_copy(
        update={
            "phantom_endpoints": [
                PhantomEndpointSetting(
                    name="fake",
                    url=base_url,
                    model="fake-7b",
                    samples=2,
                    requests_per_minute=6000,
                )
            ],
            "phantom_budget": 6,
            "phantom_watch_top": 5,
            "dns_nameservers": [f"127.0.0.1:{knot.port}"],
            "dns_timeout": 1.0,
            "dns_retries": 0,
            "dns_rate": 10_000,
            "webhook_allow_private": ["127.0.0.0/8"],
        }
    )


def test_an_invented_name_that_gets_registered_reaches_the_siem(
    phantom_settings: Settings,
    database: Database,
    knot: KnotServer,
    llm: FakeLlm,
    admin_headers: dict[str, str],
) -> None:
    receiver = HttpReceiver()
    receiver.start()
    try:
        with TestClient(create_app(phantom_settings, database)) as client:
            brand = client.post(
                "/v1/brands", json={"name": "Acme", "domains": ["acme.com"]}, headers=admin_headers
            ).json()
            hook = client.post(
                "/v1/webhooks", json={"name": "soc", "target": receiver.url}, headers=admin_headers
            ).json()
            receiver.secrets = [hook["secret"]]

            started = client.post(f"/v1/brands/{brand['id']}/phantoms/probe", headers=admin_headers)
            assert started.status_code == 202, started.text
            report = client.get(f"/v1/brands/{brand['id']}/phantoms", headers=admin_headers).json()
            (run,) = report["runs"]
            assert run["status"] == "done"
            assert run["requests_made"] == 6  # the budget, exactly
            domains = [c["domain"] for c in report["candidates"]]
            # the brand's own domain is a correct answer; the app store is a known platform
            assert set(domains) == {"acme-portal.co.uk", "acme-status.co.uk"}
            (stats,) = report["models"]
            assert stats["model"] == "fake-7b"
            assert stats["share_non_brand"] == 1.0

            # the brand's public name is all that was sent: not even its domain
            assert len(llm.requests) == 6
            for request in llm.requests:
                assert "Acme" in str(request.body)
                assert "acme.com" not in str(request.body)

            jobs = DnsJobs(phantom_settings, database)
            first = asyncio.run(jobs.check_watchlists())
            assert first.checked == 2
            assert first.registered == 0
            knot.set_zone("co.uk.", f"{ZONES['co.uk.']}acme-portal NS ns1.elsewhere.example.\n")
            with database.session() as session:
                session.execute(update(WatchEntry).values(next_check_at=WatchEntry.created_at))
            second = asyncio.run(jobs.check_watchlists())
            assert second.alerts == 1

            report = client.get(f"/v1/brands/{brand['id']}/phantoms", headers=admin_headers).json()
            states = {c["domain"]: c["registration_state"] for c in report["candidates"]}
            assert states == {"acme-portal.co.uk": "registered", "acme-status.co.uk": "free"}
            assert report["models"][0]["share_unregistered"] == 0.5

        async def deliver() -> None:
            senders = Senders(phantom_settings)
            try:
                await DeliveryWorker(database, senders, DeliveryConfig()).run_once()
            finally:
                await senders.aclose()

        asyncio.run(deliver())
        (event,) = receiver.accepted
        alert = event.payload["data"]["alert"]
        assert alert["domain"] == "acme-portal.co.uk"
        assert alert["source"] == "phantom"
        reasons = {r["technique"]: r for r in alert["reasons"]}
        assert "fake-7b" in reasons["phantom-llm"]["detail"]
        assert "registration_watch" in reasons
    finally:
        receiver.stop()
        knot.set_zone("co.uk.", str(ZONES["co.uk."]))


def test_probe_needs_a_configured_endpoint(
    settings: Settings, database: Database, admin_headers: dict[str, str]
) -> None:
    with TestClient(create_app(settings, database)) as api:
        brand = api.post(
            "/v1/brands", json={"name": "Acme", "domains": ["acme.com"]}, headers=admin_headers
        ).json()
        response = api.post(f"/v1/brands/{brand['id']}/phantoms/probe", headers=admin_headers)
    assert response.status_code == 409
    assert "PHANTOMWATCH_PHANTOM_ENDPOINTS" in response.json()["detail"]


def test_phantom_names_are_matched_in_ct_and_feeds(
    phantom_settings: Settings, database: Database, llm: FakeLlm
) -> None:
    from service.brands.schemas import BrandCreate
    from service.brands.service import create_brand
    from service.ingest.scoring import BrandIndexCache

    with database.session() as session:
        brand_id = create_brand(session, BrandCreate(name="Acme", domains=["acme.com"])).id
    asyncio.run(phantom.probe(phantom_settings, database, brand_id))
    with database.session() as session:
        brand_set = BrandIndexCache().get(session)
    from datetime import UTC, datetime

    from service.alerts.models import AlertSource

    (evidence,) = brand_set.evidence(
        ["login.acme-portal.co.uk", "unrelated.example.org"],
        AlertSource.CT,
        datetime.now(UTC),
    )
    assert evidence.domain == "acme-portal.co.uk"
    assert any(r["technique"] == "phantom-watchlist" for r in evidence.reasons)


def test_phantom_probe_command(
    phantom_settings: Settings,
    database: Database,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    import json

    from service.brands.schemas import BrandCreate
    from service.brands.service import create_brand
    from service.cli import main

    with database.session() as session:
        create_brand(session, BrandCreate(name="Acme", domains=["acme.com"]))
    endpoints = [e.model_dump() for e in phantom_settings.phantom_endpoints]
    monkeypatch.setenv("PHANTOMWATCH_DATABASE_URL", phantom_settings.database_url)
    monkeypatch.setenv("PHANTOMWATCH_PHANTOM_ENDPOINTS", json.dumps(endpoints))
    assert main(["phantom", "probe", "--brand", "Acme", "--budget", "2"]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert lines[0]["requests"] == 2
    assert {line["domain"] for line in lines[1:]} == {"acme-portal.co.uk", "acme-status.co.uk"}
    assert main(["phantom", "probe", "--brand", "Nobody"]) == 2
    assert "no brand named" in capsys.readouterr().err

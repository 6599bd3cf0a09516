"""CT as the service runs it: scheduled jobs from settings, /v1/sources, /metrics, CLI, demo."""

from __future__ import annotations

import asyncio
import json

import pytest
from fastapi.testclient import TestClient

from service.brands.schemas import BrandCreate
from service.brands.service import create_brand
from service.cli import main
from service.config import Settings
from service.db import Database
from service.ingest.ct_jobs import CtJobs
from service.sources.ct.emulator import Emulator
from service.worker import build_scheduler
from tests.api.test_auth import assert_problem


@pytest.fixture
def emu() -> Emulator:
    emulator = Emulator()
    emulator.start()
    emulator.add_certificates([["paypa1.com"], ["ordinary.example.org"], ["paypal-login.com"]])
    yield emulator  # type: ignore[misc]
    emulator.stop()


@pytest.fixture
def ct_settings(settings: Settings, emu: Emulator) -> Settings:
    return settings.model_copy(
        update={
            "ct_log_list": emu.urls["log_list"],
            "ct_backfill": 10**9,
            "ct_partial_tile_wait": 0.0,
        }
    )


def test_scheduler_has_ct_jobs_only_when_configured(
    settings: Settings, ct_settings: Settings, database: Database
) -> None:
    ct_jobs = {"ct-log-list", "ct-poll"}
    plain = {job.id for job in build_scheduler(settings, database).get_jobs()}
    assert not plain & ct_jobs
    configured = {job.id for job in build_scheduler(ct_settings, database).get_jobs()}
    assert ct_jobs <= configured


def test_jobs_ingest_and_the_api_reports_each_log(
    ct_settings: Settings,
    database: Database,
    client: TestClient,
    read_headers: dict[str, str],
    admin_headers: dict[str, str],
) -> None:
    with database.session() as session:
        create_brand(session, BrandCreate(name="PayPal", domains=["paypal.com"]))
    jobs = CtJobs(ct_settings, database)
    added = asyncio.run(jobs.refresh_log_list())
    assert len(added.added) == 2
    reports = asyncio.run(jobs.poll())
    assert all(r.error is None and r.verified for r in reports)

    alerts = client.get("/v1/alerts", headers=read_headers).json()["items"]
    assert {a["domain"] for a in alerts} == {"paypa1.com", "paypal-login.com"}
    assert {a["source"] for a in alerts} == {"ct"}

    sources = client.get("/v1/sources", headers=read_headers).json()["ct"]
    assert {s["protocol"] for s in sources} == {"rfc6962", "static"}
    for source in sources:
        assert source["healthy"] is True
        assert source["lag"] == 0
        assert source["next_index"] == source["head_size"] == source["verified_size"] == 6
        assert source["entries_processed"] == 6
        assert source["entries_per_second"] > 0

    first = sources[0]["id"]
    assert_problem(
        client.patch(f"/v1/sources/ct/{first}", json={"enabled": False}, headers=read_headers),
        403,
        "forbidden",
    )
    changed = client.patch(
        f"/v1/sources/ct/{first}", json={"enabled": False}, headers=admin_headers
    )
    assert changed.json()["enabled"] is False
    assert len(asyncio.run(jobs.poll())) == 1  # the disabled log is skipped

    metrics = client.get("/metrics").text
    assert "phantomwatch_ct_entries_processed_total{log=" in metrics
    assert "phantomwatch_ct_log_healthy{log=" in metrics


def test_log_list_refresh_keeps_cursor_and_choices(
    ct_settings: Settings, database: Database, emu: Emulator
) -> None:
    jobs = CtJobs(ct_settings, database)
    asyncio.run(jobs.refresh_log_list())
    asyncio.run(jobs.poll())
    again = asyncio.run(jobs.refresh_log_list())
    assert again.added == [] and again.updated == []  # noqa: PT018
    emu.add_certificates([["paypal-billing.com"]])
    reports = asyncio.run(jobs.poll())
    assert sorted(r.entries for r in reports) == [2, 2]


def test_ct_cli_commands(
    ct_settings: Settings,
    database: Database,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("PHANTOMWATCH_DATABASE_URL", ct_settings.database_url)
    monkeypatch.setenv("PHANTOMWATCH_CT_BACKFILL", "1000")
    monkeypatch.setenv("PHANTOMWATCH_CT_PARTIAL_TILE_WAIT", "0")
    assert main(["ct", "logs"]) == 0
    assert "no CT logs yet" in capsys.readouterr().out
    assert main(["ct", "poll"]) == 2
    assert "no log list" in capsys.readouterr().err
    assert main(["ct", "poll", "--log-list", str(ct_settings.ct_log_list)]) == 0
    reports = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert sorted(r["entries"] for r in reports) == [6, 6]
    assert main(["ct", "logs", "--json"]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert all(r["lag"] == 0 and r["healthy"] for r in rows)
    assert main(["ct", "logs"]) == 0
    table = capsys.readouterr().out
    assert "Phantom6962" in table
    assert "ok" in table
    assert main(["ct", "poll", "--log-list", "/nonexistent/list.json"]) == 1
    assert "cannot read the log list" in capsys.readouterr().err


def test_demo_produces_alerts_offline(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo"]) == 0
    captured = capsys.readouterr()
    alerts = [json.loads(line) for line in captured.out.splitlines()]
    by_domain = {a["domain"]: a for a in alerts}
    assert by_domain["xn--pypal-4ve.com"]["unicode"] == "pаypal.com"
    assert by_domain["paypal.com.verify-id.ru"]["brand"] == "PayPal"
    assert "acrnebank.com" in by_domain
    assert "paypal.com" not in by_domain  # the brand's own domain never alerts
    assert "www.example.org" not in by_domain
    assert "verified=True" in captured.err


def test_update_log_list_downloads_to_a_file(
    emu: Emulator, tmp_path: object, capsys: pytest.CaptureFixture[str]
) -> None:
    from pathlib import Path

    dest = Path(str(tmp_path)) / "lists" / "ct.json"
    assert main(["ct", "update-log-list", "--url", emu.urls["log_list"], "--dest", str(dest)]) == 0
    assert "2 logs to monitor" in capsys.readouterr().err
    assert json.loads(dest.read_text())["operators"][0]["name"] == "PhantomWatch Emulator"
    missing = emu.base_url + "/nope.json"
    assert main(["ct", "update-log-list", "--url", missing, "--dest", str(dest)]) == 1
    assert "cannot download" in capsys.readouterr().err


def test_log_list_refresh_adds_and_retires_logs(
    ct_settings: Settings, database: Database, emu: Emulator, tmp_path: object
) -> None:
    from pathlib import Path

    document = emu.log_list()
    operator = document["operators"][0]
    only_rfc = {**document, "operators": [{**operator, "tiled_logs": []}]}
    path = Path(str(tmp_path)) / "list.json"
    path.write_text(json.dumps(only_rfc))
    jobs = CtJobs(ct_settings.model_copy(update={"ct_log_list": str(path)}), database)

    assert len(asyncio.run(jobs.refresh_log_list()).added) == 1
    assert [r.log for r in asyncio.run(jobs.poll())] == [emu.rfc6962.name]

    path.write_text(json.dumps(document))  # the tiled log joins the list
    assert asyncio.run(jobs.refresh_log_list()).added == [emu.static.name]
    assert len(asyncio.run(jobs.poll())) == 2

    retired = {"retired": {"timestamp": "2026-01-01T00:00:00Z"}}
    operator["logs"][0]["state"] = retired  # the RFC 6962 log is retired
    path.write_text(json.dumps(document))
    assert asyncio.run(jobs.refresh_log_list()).updated == [emu.rfc6962.name]
    assert [r.log for r in asyncio.run(jobs.poll())] == [emu.static.name]

"""The CT pipeline against the emulator over real HTTP, on every database backend."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterator
from typing import Any, TypeVar

import pytest
from sqlalchemy import func, select

from service.alerts import service as alerts_service
from service.alerts.models import Alert, AlertEvent
from service.brands.schemas import BrandCreate
from service.brands.service import create_brand
from service.ctlogs.models import CtLog, CtMalformedEntry
from service.ctlogs.service import sync_log_list
from service.db import Database
from service.ingest.ct import CtConfig, CtIngestor, PollReport
from service.sources.ct.emulator import Emulator
from service.sources.ct.http import CTHttpClient, HttpConfig
from service.sources.ct.loglist import parse_log_list
from service.sources.ct.merkle import CompactRange

T = TypeVar("T")

LOOKALIKES = [
    ["paypa1.com", "www.paypa1.com"],
    ["login-paypal.com.example.ru"],
    ["*.secure-paypal-login.net", "secure-paypal-login.net"],
]
EXPECTED = {"paypa1.com", "login-paypal.com.example.ru", "secure-paypal-login.net"}


@pytest.fixture
def emu() -> Iterator[Emulator]:
    emulator = Emulator()
    emulator.start()
    emulator.add_certificates([[f"filler{i}.example.org"] for i in range(40)])
    emulator.add_certificates(LOOKALIKES)
    emulator.add_certificates([[f"more{i}.example.net"] for i in range(30)])
    try:
        yield emulator
    finally:
        emulator.stop()


@pytest.fixture
def logs(database: Database, emu: Emulator) -> dict[str, int]:
    """Brand PayPal and both emulated logs registered; returns log primary keys by protocol."""
    with database.session() as session:
        create_brand(session, BrandCreate(name="PayPal", domains=["paypal.com"]))
        sync_log_list(session, parse_log_list(emu.log_list_bytes()).monitored())
        return {row.protocol: row.id for row in session.scalars(select(CtLog))}


def cfg(**overrides: Any) -> CtConfig:
    """Read everything, and read partial tiles at once (the emulator's are never old)."""
    return CtConfig(**{"backfill": 10**9, "partial_tile_wait": 0.0, **overrides})


async def _no_sleep(_: float) -> None:
    return None


def poll(
    database: Database,
    pk: int,
    config: CtConfig | None = None,
    around: Callable[[CtIngestor], Awaitable[T]] | None = None,
) -> PollReport:
    async def go() -> Any:
        async with CTHttpClient(HttpConfig(max_attempts=2), sleep=_no_sleep) as client:
            ingestor = CtIngestor(database, client, config or cfg())
            if around is not None:
                return await around(ingestor)
            return await ingestor.poll_log(pk)

    return asyncio.run(go())  # type: ignore[no-any-return]


def alert_domains(database: Database) -> list[str]:
    with database.session() as session:
        return sorted(session.scalars(select(Alert.domain)))


def state(database: Database, pk: int) -> CtLog:
    with database.session() as session:
        row = session.get(CtLog, pk)
        assert row is not None
        session.expunge(row)
        return row


@pytest.mark.parametrize("protocol", ["rfc6962", "static"])
def test_reads_a_log_to_its_head_and_alerts_once_per_lookalike(
    database: Database, emu: Emulator, logs: dict[str, int], protocol: str
) -> None:
    report = poll(database, logs[protocol], cfg(batch_size=16))
    size = emu.rfc6962.size
    assert report.error is None
    assert (report.entries, report.next_index, report.head_size) == (size, size, size)
    assert report.verified
    assert set(alert_domains(database)) == EXPECTED
    # precert and final certificate of each lookalike made one alert, not two
    assert report.alerts_created == 3
    row = state(database, logs[protocol])
    assert row.next_index == size
    assert row.verified_head is not None
    assert row.verified_head["size"] == size
    assert CompactRange.from_json(row.compact_range).size == size
    with database.session() as session:
        event = session.scalar(select(AlertEvent).where(AlertEvent.kind == "created"))
        assert event is not None
        assert event.data is not None
        assert event.data["source"] == "ct"
        assert event.data["log"] == row.name
        assert isinstance(event.data["index"], int)


def test_resumes_where_it_stopped_and_picks_up_growth(
    database: Database, emu: Emulator, logs: dict[str, int]
) -> None:
    pk = logs["rfc6962"]
    first = poll(database, pk, cfg(batch_size=10, max_batches_per_poll=3))
    assert first.next_index == 30
    assert not first.verified
    assert state(database, pk).next_index == 30
    poll(database, pk)
    emu.add_certificates([["paypal-account-verify.com"]])
    grown = poll(database, pk)
    assert grown.entries == 2  # precert and final
    assert "paypal-account-verify.com" in alert_domains(database)
    assert state(database, pk).next_index == emu.rfc6962.size


def test_a_crash_mid_batch_loses_and_duplicates_nothing(
    database: Database, emu: Emulator, logs: dict[str, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    pk = logs["rfc6962"]
    real_record = alerts_service._create
    calls = {"n": 0}

    def crashing_record(*args: Any, **kwargs: Any) -> Any:
        calls["n"] += 1
        result = real_record(*args, **kwargs)
        if calls["n"] == 2:
            raise RuntimeError("power cut")
        return result

    monkeypatch.setattr(alerts_service, "_create", crashing_record)
    failed = poll(database, pk, cfg(batch_size=1000))
    assert failed.error is not None
    assert "power cut" in failed.error
    # the whole batch rolled back: no alert, cursor not moved
    assert alert_domains(database) == []
    assert state(database, pk).next_index == 0

    monkeypatch.setattr(alerts_service, "_create", real_record)
    report = poll(database, pk)
    assert report.error is None
    assert set(alert_domains(database)) == EXPECTED
    with database.session() as session:
        created = session.scalar(
            select(func.count()).select_from(AlertEvent).where(AlertEvent.kind == "created")
        )
    assert created == 3


def test_a_log_that_lies_about_its_root_is_stopped(
    database: Database, emu: Emulator, logs: dict[str, int]
) -> None:
    pk = logs["static"]
    poll(database, pk)
    emu.add_certificates([["paypal-refund.com"]])
    emu.static.faults.lie_about_root = True
    report = poll(database, pk)
    assert report.stopped_unhealthy
    row = state(database, pk)
    assert not row.healthy
    assert row.health_detail
    assert "paypal-refund.com" not in alert_domains(database)
    # an unhealthy log is not polled again
    emu.static.faults.lie_about_root = False
    reports = poll(database, pk, around=lambda ing: ing.poll_all())
    assert [r.log for r in reports] == [state(database, logs["rfc6962"]).name]  # type: ignore[attr-defined]


def test_malformed_entries_are_recorded_and_skipped(
    database: Database, emu: Emulator, logs: dict[str, int]
) -> None:
    bad_index = emu.add_malformed("der")
    emu.add_certificates([["paypal-wallet-login.com"]])
    pk = logs["rfc6962"]
    report = poll(database, pk)
    assert report.error is None
    assert report.malformed == 1
    assert "paypal-wallet-login.com" in alert_domains(database)
    with database.session() as session:
        (bad,) = session.scalars(select(CtMalformedEntry))
        assert bad.entry_index == bad_index
    assert state(database, pk).malformed_entries == 1


@pytest.mark.parametrize("protocol", ["rfc6962", "static"])
def test_a_new_log_starts_near_its_head_and_still_verifies(
    database: Database, emu: Emulator, logs: dict[str, int], protocol: str
) -> None:
    emu.add_certificates([[f"bulk{i}.example.com"] for i in range(200)])  # 552 entries
    emu.add_certificates([["paypal-secure-checkout.com"]])
    report = poll(database, logs[protocol], cfg(backfill=20))
    size = emu.rfc6962.size
    assert report.error is None, report.error
    assert report.verified, "the bootstrapped compact range did not match the signed root"
    assert report.next_index == size
    expected_start = size - 20 if protocol == "rfc6962" else (size - 20) // 256 * 256
    assert report.entries == size - expected_start
    assert alert_domains(database) == ["paypal-secure-checkout.com"]


def test_two_workers_on_one_log_never_double_record(
    database: Database, emu: Emulator, logs: dict[str, int]
) -> None:
    pk = logs["rfc6962"]

    async def race(ingestor: CtIngestor) -> Any:
        other = CtIngestor(database, ingestor.client, ingestor.config)
        return await asyncio.gather(ingestor.poll_log(pk), other.poll_log(pk))

    poll(database, pk, cfg(batch_size=8), around=race)
    poll(database, pk)
    assert set(alert_domains(database)) == EXPECTED
    assert state(database, pk).next_index == emu.rfc6962.size
    with database.session() as session:
        created = session.scalar(
            select(func.count()).select_from(AlertEvent).where(AlertEvent.kind == "created")
        )
    assert created == 3


def test_a_young_partial_tile_is_left_until_it_fills(
    database: Database, emu: Emulator, logs: dict[str, int]
) -> None:
    pk = logs["static"]
    report = poll(database, pk, cfg(partial_tile_wait=300.0))
    assert (report.entries, report.next_index) == (0, 0)
    # the head is still verified: the partial tile's leaf hashes complete the tree
    assert report.verified
    assert state(database, pk).verified_head["size"] == emu.static.size  # type: ignore[index]
    emu.add_certificates([[f"fill{i}.example.com"] for i in range(60)])  # 266 entries
    report = poll(database, pk, cfg(partial_tile_wait=300.0))
    assert report.next_index == 256
    assert report.verified
    assert set(alert_domains(database)) == EXPECTED


def test_a_lie_is_caught_while_the_right_edge_tile_fills(
    database: Database, emu: Emulator, logs: dict[str, int]
) -> None:
    pk = logs["static"]
    emu.static.faults.lie_about_root = True
    report = poll(database, pk, cfg(partial_tile_wait=300.0))
    assert report.stopped_unhealthy
    assert not state(database, pk).healthy

"""Feed ingestion: each content once, resumable after a crash, alerts for the lookalikes."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from sqlalchemy import func, select

from service.alerts import service as alerts_service
from service.alerts.models import Alert, AlertEvent
from service.brands.schemas import BrandCreate
from service.brands.service import create_brand
from service.config import Settings
from service.db import Database
from service.feeds import service as feeds
from service.feeds.models import FeedCursor

NAMES = [f"ordinary-site-{i}.com" for i in range(100)]
# lookalikes in three different batches of 10, and the brand's own domain
NAMES[5], NAMES[55], NAMES[95], NAMES[96] = (
    "paypa1.com",
    "paypal-login-secure.net",
    "xn--pypal-4ve.com",
    "paypal.com",
)


@pytest.fixture
def brand(database: Database) -> None:
    with database.session() as session:
        create_brand(session, BrandCreate(name="PayPal", domains=["paypal.com"]))


def domains(database: Database) -> set[str]:
    with database.session() as session:
        return set(session.scalars(select(Alert.domain)))


@pytest.fixture(params=[1, 2], ids=["inline", "2-processes"])
def processes(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> int:
    """Scoring inline, or in two processes with jobs (3 names) smaller than the batches."""
    monkeypatch.setattr(feeds, "JOB_SIZE", 3)
    monkeypatch.setattr(feeds, "MIN_JOB", 1)
    return int(request.param)


@pytest.mark.usefixtures("brand")
def test_a_feed_is_scored_once(database: Database, processes: int) -> None:
    report = feeds.ingest(
        database,
        "nrd-2025-12-01",
        "nrd",
        "digest-1",
        iter(NAMES),
        batch_size=10,
        processes=processes,
    )
    assert report.names == 100
    assert report.alerts_created == 3
    assert domains(database) == {"paypa1.com", "paypal-login-secure.net", "xn--pypal-4ve.com"}
    again = feeds.ingest(database, "nrd-2025-12-01", "nrd", "digest-1", NAMES)
    assert again.skipped
    assert feeds.already_processed(database, "nrd-2025-12-01", "nrd", "digest-1")
    with database.session() as session:
        cursor = session.scalar(select(FeedCursor))
        assert cursor is not None
        assert (cursor.items_processed, cursor.alerts_created, cursor.position) == (100, 3, 0)


@pytest.mark.usefixtures("brand")
def test_a_crash_mid_feed_resumes_after_the_last_batch(
    database: Database, monkeypatch: pytest.MonkeyPatch, processes: int
) -> None:
    real = alerts_service._create
    calls = {"n": 0}

    def crash_on_second(*args: Any, **kwargs: Any) -> Any:
        calls["n"] += 1
        if calls["n"] == 2:
            raise RuntimeError("killed")
        return real(*args, **kwargs)

    monkeypatch.setattr(alerts_service, "_create", crash_on_second)
    with pytest.raises(RuntimeError):
        feeds.ingest(database, "feed", "nrd", "d", NAMES, batch_size=10, processes=processes)
    # the batch holding paypa1.com committed; the one that crashed did not
    assert domains(database) == {"paypa1.com"}
    with database.session() as session:
        cursor = session.scalar(select(FeedCursor))
        assert cursor is not None
        assert (cursor.pending_digest, cursor.position) == ("d", 50)

    monkeypatch.setattr(alerts_service, "_create", real)
    report = feeds.ingest(database, "feed", "nrd", "d", NAMES, batch_size=10, processes=processes)
    assert report.resumed_at == 50
    assert report.names == 50
    assert domains(database) == {"paypa1.com", "paypal-login-secure.net", "xn--pypal-4ve.com"}
    with database.session() as session:
        events = session.scalar(select(func.count()).select_from(AlertEvent))
    assert events == 3


@pytest.mark.usefixtures("brand")
def test_a_long_feed_logs_its_progress_at_most_every_few_seconds(
    database: Database,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    processes: int,
) -> None:
    caplog.set_level(logging.INFO, logger=feeds.__name__)
    monkeypatch.setattr(feeds, "PROGRESS_EVERY", 0.0)
    feeds.ingest(database, "slow", "nrd", "d1", NAMES, batch_size=10, processes=processes)
    progress = [r.getMessage() for r in caplog.records if "so far" in r.getMessage()]
    # one line per committed batch but the last (it shares the closing line's commit)
    assert [line.split(",")[0] for line in progress] == [
        f"feed slow: {n} names done" for n in range(10, 100, 10)
    ]
    assert progress[5].startswith("feed slow: 60 names done, 2 new alerts so far, ")
    assert progress[5].endswith(" names/s")
    assert all(r.levelno == logging.INFO for r in caplog.records)

    caplog.clear()
    monkeypatch.setattr(feeds, "PROGRESS_EVERY", 10.0)
    feeds.ingest(database, "quick", "nrd", "d2", NAMES, batch_size=10, processes=processes)
    # done in far less than PROGRESS_EVERY seconds: only the closing line
    assert [r.getMessage().split(",")[0] for r in caplog.records] == ["feed quick: 100 names"]


def test_scoring_jobs_keep_to_the_batches_and_shrink_at_the_end() -> None:
    names = [f"name-{i}.com" for i in range(23_000)]
    jobs = list(feeds._jobs(iter(names), 10_000, 2_500, len(names), 2))
    assert [name for job, _ in jobs for name in job] == names  # in feed order, each once
    sizes = [len(job) for job, _ in jobs]
    assert max(sizes) == 2_500
    # a job never spans two batches: they end exactly at the resume points...
    ends = [sum(sizes[: i + 1]) for i, (_, last) in enumerate(jobs) if last]
    assert ends == [10_000, 20_000]  # ...and the caller commits the shorter last one
    # the end of the feed comes in small jobs, so the processes finish together
    assert sizes[:5] == [2_500] * 5
    assert sum(sizes[-4:]) < 2_500
    assert sizes[-2] == feeds.MIN_JOB
    # without an estimate of the length: jobs of the given size
    unknown = [len(job) for job, _ in feeds._jobs(iter(names), 10_000, 2_500, 0, 2)]
    assert unknown == [2_500] * 9 + [500]


def _cli_env(monkeypatch: pytest.MonkeyPatch, database: Database) -> None:
    monkeypatch.setenv(
        "PHANTOMWATCH_DATABASE_URL", database.url.render_as_string(hide_password=False)
    )


@pytest.mark.usefixtures("brand")
def test_feeds_ingest_command_nrd_and_zone(
    database: Database,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Any,
    capsys: pytest.CaptureFixture[str],
) -> None:
    import gzip
    import json

    from service.cli import main

    _cli_env(monkeypatch, database)
    monkeypatch.chdir(tmp_path)
    nrd = tmp_path / "nrd.txt.gz"
    nrd.write_bytes(
        gzip.compress(b"# newly registered\nplain-shop.com\npaypa1.com\nnot a domain\n")
    )
    assert main(["feeds", "ingest", str(nrd)]) == 0
    out = json.loads(capsys.readouterr().out)
    assert (out["names"], out["alerts_created"], out["skipped"]) == (2, 1, False)
    assert main(["feeds", "ingest", str(nrd)]) == 0
    assert json.loads(capsys.readouterr().out)["skipped"] is True
    assert main(["feeds", "ingest", str(nrd), "--force"]) == 0
    assert json.loads(capsys.readouterr().out)["names"] == 2

    zone = tmp_path / "shop.zone"
    zone.write_text("$ORIGIN shop.\n$TTL 3600\n@ SOA ns1 host 1 2 3 4 5\nold-store NS ns1.x.net.\n")
    assert main(["feeds", "ingest", "--kind", "zone", str(zone)]) == 0
    assert json.loads(capsys.readouterr().out)["names"] == 0  # the first version is the baseline
    zone.write_text(
        "$ORIGIN shop.\n$TTL 3600\n@ SOA ns1 host 2 2 3 4 5\nold-store NS ns1.x.net.\n"
        "paypal-login NS ns1.evil.net.\ncookies NS ns1.x.net.\n"
    )
    assert main(["feeds", "ingest", "--kind", "zone", str(zone)]) == 0
    out = json.loads(capsys.readouterr().out)
    assert (out["names"], out["alerts_created"]) == (2, 1)
    assert "paypal-login.shop" in domains(database)
    assert main(["feeds", "ingest", str(tmp_path / "missing.txt")]) == 2

    # a feed another process is ingesting: exit 1, nothing done
    from service.config import Settings
    from service.ingest.feed_jobs import _prefix
    from tests.ingest.locks import held_by_another_process

    state = Settings().feeds_state_path
    with held_by_another_process(state / f"{_prefix(f'nrd:{nrd}')}.lock"):
        assert main(["feeds", "ingest", str(nrd), "--force"]) == 1
    captured = capsys.readouterr()
    assert "another process is ingesting this feed" in captured.err
    assert captured.out == ""
    # --force did not reset the cursor under the other process's feet
    assert main(["feeds", "ingest", str(nrd)]) == 0
    assert json.loads(capsys.readouterr().out)["skipped"] is True


@pytest.mark.usefixtures("brand")
def test_real_nrd_list(database: Database, settings: Settings) -> None:
    from pathlib import Path

    from service.ingest.feed_jobs import FeedJobs
    from tests.conftest import shared_data

    path: Path = shared_data("nrd/whoisds_2025-12-01.txt")
    jobs = FeedJobs(settings, database)
    report = jobs.ingest_nrd("whoisds", path.read_bytes())
    assert report.names == 69_980
    flagged = domains(database)
    assert all("paypal" in d or "pypal" in d or "payp" in d for d in flagged), flagged

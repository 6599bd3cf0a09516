"""Zone feeds: versions found from any working directory, and no delegation lost to a crash."""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import select

from service.alerts.models import Alert
from service.brands.schemas import BrandCreate
from service.brands.service import create_brand
from service.config import Settings
from service.db import Database
from service.feeds.models import FeedCursor
from service.feeds.service import FeedReport
from service.ingest.feed_jobs import FeedJobs, _prefix
from tests.ingest.locks import held_by_another_process

HEAD = "$ORIGIN shop.\n$TTL 3600\n@ SOA ns1 host {serial} 2 3 4 5\nold-store NS ns1.x.net.\n"


@pytest.fixture(autouse=True)
def brand(database: Database) -> None:
    with database.session() as session:
        create_brand(session, BrandCreate(name="PayPal", domains=["paypal.com"]))


def write_zone(path: Path, serial: int, *delegated: str) -> Path:
    path.write_text(
        HEAD.format(serial=serial) + "".join(f"{label} NS ns1.evil.net.\n" for label in delegated)
    )
    return path


def domains(database: Database) -> set[str]:
    with database.session() as session:
        return set(session.scalars(select(Alert.domain)))


def previous_path(database: Database, name: str) -> str | None:
    with database.session() as session:
        return session.scalar(select(FeedCursor.previous_path).where(FeedCursor.name == name))


@pytest.mark.parametrize("state_dir", [None, "state"], ids=["default", "relative-setting"])
def test_the_previous_version_is_found_from_another_working_directory(
    database: Database,
    settings: Settings,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    state_dir: str | None,
) -> None:
    # The worker and `feeds ingest` started from different directories, same database.
    settings = settings.model_copy(update={"feeds_state_dir": state_dir})
    name = f"zone:{tmp_path / 'shop.zone'}"
    (tmp_path / "worker").mkdir()
    (tmp_path / "cli").mkdir()
    monkeypatch.chdir(tmp_path / "worker")
    baseline = FeedJobs(settings, database).ingest_zone(
        name, write_zone(tmp_path / "shop.zone", 1, "cookies")
    )
    assert baseline.names == 0
    kept = previous_path(database, name)
    assert kept is not None
    assert Path(kept).is_absolute()
    assert Path(kept).is_file()

    monkeypatch.chdir(tmp_path / "cli")
    caplog.set_level(logging.INFO, logger="service.ingest.feed_jobs")
    report = FeedJobs(settings, database).ingest_zone(
        name, write_zone(tmp_path / "shop.zone", 2, "cookies", "paypal-login")
    )
    assert (report.names, report.alerts_created) == (1, 1)
    assert domains(database) == {"paypal-login.shop"}
    messages = [r.getMessage() for r in caplog.records]
    assert f"zone {name}: diffing against the previous version {kept}" in messages
    assert any(m.startswith(f"zone {name}: 1 new delegations") for m in messages)
    # the version just scored replaced the first one
    now = previous_path(database, name)
    assert now is not None
    assert now != kept
    assert Path(now).is_file()
    assert not Path(kept).exists()


@pytest.mark.parametrize("crash_on", [1, 2], ids=["first-version", "second-version"])
def test_a_crash_before_the_switch_loses_no_delegation(
    database: Database,
    settings: Settings,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    crash_on: int,
) -> None:
    jobs = FeedJobs(settings, database, state_dir=tmp_path / "state")
    zone = tmp_path / "shop.zone"
    real = FeedJobs._switch
    calls = {"n": 0}

    def switch_or_die(self: FeedJobs, name: str, keep: Path) -> None:
        calls["n"] += 1
        if calls["n"] == crash_on:
            raise RuntimeError("killed after the feed was marked processed")
        real(self, name, keep)

    monkeypatch.setattr(FeedJobs, "_switch", switch_or_die)
    versions = [
        (["cookies"], set()),
        (["cookies", "paypal-login"], {"paypal-login.shop"}),
        (["cookies", "paypal-login", "paypa1"], {"paypal-login.shop", "paypa1.shop"}),
    ]
    for serial, (delegated, alerted) in enumerate(versions, 1):
        write_zone(zone, serial, *delegated)
        if serial == crash_on:
            with pytest.raises(RuntimeError):
                jobs.ingest_zone("shop", zone)
        else:
            jobs.ingest_zone("shop", zone)
        assert domains(database) == alerted
    # the older versions are deleted once the last switch is made
    kept = previous_path(database, "shop")
    assert kept is not None
    zones = [f for f in (tmp_path / "state").iterdir() if f.suffix != ".lock"]
    assert zones == [Path(kept)]


def test_without_the_crashed_versions_copy_the_next_is_diffed_against_the_older(
    database: Database, settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The copy can be gone (another state dir, a cleaned disk): more names are scored
    # again, which only updates their alerts, and nothing is lost.
    jobs = FeedJobs(settings, database, state_dir=tmp_path / "state")
    zone = tmp_path / "shop.zone"
    jobs.ingest_zone("shop", write_zone(zone, 1, "cookies"))
    first = previous_path(database, "shop")

    def die(self: FeedJobs, name: str, keep: Path) -> None:
        keep.unlink()
        raise RuntimeError("killed")

    monkeypatch.setattr(FeedJobs, "_switch", die)
    with pytest.raises(RuntimeError):
        jobs.ingest_zone("shop", write_zone(zone, 2, "cookies", "paypal-login"))
    monkeypatch.undo()
    assert previous_path(database, "shop") == first
    report = jobs.ingest_zone("shop", write_zone(zone, 3, "cookies", "paypal-login", "paypa1"))
    assert report.names == 2  # both new since version 1
    assert (report.alerts_created, report.alerts_updated) == (1, 1)
    assert domains(database) == {"paypal-login.shop", "paypa1.shop"}


def test_a_missing_previous_version_is_a_warning(
    database: Database, settings: Settings, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    jobs = FeedJobs(settings, database, state_dir=tmp_path / "state")
    zone = tmp_path / "shop.zone"
    jobs.ingest_zone("shop", write_zone(zone, 1, "cookies"))
    kept = previous_path(database, "shop")
    assert kept is not None
    Path(kept).unlink()
    report = jobs.ingest_zone("shop", write_zone(zone, 2, "cookies", "paypal-login"))
    assert report.names == 0
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert warnings == [
        f"zone shop: the previous version {kept} is missing: this version becomes the "
        "baseline and its new delegations are not scored"
    ]


@pytest.mark.parametrize("kind", ["zone", "nrd"])
def test_a_feed_another_process_is_ingesting_is_left_alone(
    database: Database, settings: Settings, tmp_path: Path, kind: str
) -> None:
    settings = settings.model_copy(update={"feeds_state_dir": str(tmp_path / "state")})
    jobs = FeedJobs(settings, database)
    zone = write_zone(tmp_path / "shop.zone", 1)

    def ingest() -> FeedReport:
        if kind == "zone":
            return jobs.ingest_zone("shop", zone)
        return jobs.ingest_nrd("shop", b"paypal-login.shop\n")

    lock = tmp_path / "state" / f"{_prefix('shop')}.lock"
    with held_by_another_process(lock) as holder:
        busy = ingest()
        assert (busy.busy, busy.names) == (True, 0)
        assert previous_path(database, "shop") is None  # nothing done, nothing recorded
        holder.kill()  # it dies without unlocking: the kernel releases the lock
        holder.wait()
    done = ingest()
    assert not done.busy
    assert previous_path(database, "shop") is not None or kind == "nrd"
    assert (domains(database) == {"paypal-login.shop"}) is (kind == "nrd")


INGESTER = """
import sys
from pathlib import Path
from service.config import Settings
from service.db import Database
from service.feeds import service as feeds
from service.ingest.feed_jobs import FeedJobs
feeds.JOB_SIZE = 50
url, state = sys.argv[1], sys.argv[2]
settings = Settings(database_url=url, feeds_state_dir=state, feeds_processes=2)
names = "".join(f"shop-{i}-lookup.shop\\n" for i in range(400_000)).encode()
FeedJobs(settings, Database(settings.sqlalchemy_url)).ingest_nrd("big", names)
"""


def _lock_is_free(path: Path) -> bool:
    with path.open("a+b") as lock:
        try:
            fcntl.lockf(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            return False
        fcntl.lockf(lock, fcntl.LOCK_UN)
        return True


def _group(pgid: int) -> list[int]:
    """The live processes of a process group (from /proc)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError):
            fields = stat.read_text().rsplit(")", 1)[1].split()
            if int(fields[2]) == pgid and fields[0] != "Z":
                found.append(int(stat.parent.name))
    return found


def test_a_killed_ingester_leaves_the_feed_unlocked(database: Database, tmp_path: Path) -> None:
    """Killed while its forked scoring processes run: they must not keep the feed locked."""
    state = tmp_path / "state"
    lock = state / f"{_prefix('big')}.lock"
    url = database.url.render_as_string(hide_password=False)
    ingester = subprocess.Popen(
        [sys.executable, "-c", INGESTER, url, str(state)], start_new_session=True
    )
    try:
        deadline = time.monotonic() + 30
        while not (lock.exists() and not _lock_is_free(lock)):
            assert ingester.poll() is None, "the ingester ended before taking the lock"
            assert time.monotonic() < deadline, "the ingester never took the lock"
            time.sleep(0.05)
        while len(_group(ingester.pid)) < 3:  # scoring, on the two forked processes
            assert ingester.poll() is None, "the ingester ended before it forked"
            assert time.monotonic() < deadline, "the ingester never forked its scorers"
            time.sleep(0.05)
        ingester.kill()
        ingester.wait()
        assert len(_group(ingester.pid)) >= 2  # its scoring processes live on, orphaned
        deadline = time.monotonic() + 5
        while not _lock_is_free(lock):
            assert time.monotonic() < deadline, "the feed stayed locked after its ingester died"
            time.sleep(0.05)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(ingester.pid, signal.SIGKILL)  # the orphaned scoring processes


def test_a_thread_of_the_same_process_is_also_kept_out(
    database: Database, settings: Settings, tmp_path: Path
) -> None:
    settings = settings.model_copy(update={"feeds_state_dir": str(tmp_path / "state")})
    jobs = FeedJobs(settings, database)
    inner: list[FeedReport] = []

    def work() -> FeedReport:
        inner.append(jobs.ingest_nrd("shop", b"paypal-login.shop\n"))
        return FeedReport(feed="shop")

    assert not jobs._alone("shop", work, force=False).busy
    assert [r.busy for r in inner] == [True]

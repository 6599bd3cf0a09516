"""Feed ingestion: each content once, resumable after a crash, alerts for the lookalikes."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func, select

from service.alerts.models import Alert, AlertEvent
from service.brands.schemas import BrandCreate
from service.brands.service import create_brand
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


@pytest.mark.usefixtures("brand")
def test_a_feed_is_scored_once(database: Database) -> None:
    report = feeds.ingest(database, "nrd-2025-12-01", "nrd", "digest-1", NAMES, batch_size=10)
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
    database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = feeds.record
    calls = {"n": 0}

    def crash_on_second(*args: Any, **kwargs: Any) -> Any:
        calls["n"] += 1
        if calls["n"] == 2:
            raise RuntimeError("killed")
        return real(*args, **kwargs)

    monkeypatch.setattr(feeds, "record", crash_on_second)
    with pytest.raises(RuntimeError):
        feeds.ingest(database, "feed", "nrd", "d", NAMES, batch_size=10)
    # the batch holding paypa1.com committed; the one that crashed did not
    assert domains(database) == {"paypa1.com"}
    with database.session() as session:
        cursor = session.scalar(select(FeedCursor))
        assert cursor is not None
        assert (cursor.pending_digest, cursor.position) == ("d", 50)

    monkeypatch.setattr(feeds, "record", real)
    report = feeds.ingest(database, "feed", "nrd", "d", NAMES, batch_size=10)
    assert report.resumed_at == 50
    assert report.names == 50
    assert domains(database) == {"paypa1.com", "paypal-login-secure.net", "xn--pypal-4ve.com"}
    with database.session() as session:
        events = session.scalar(select(func.count()).select_from(AlertEvent))
    assert events == 3

"""Migrations agree with the models and go up, down and up again on every backend."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect
from sqlalchemy.engine import URL

import service.models  # noqa: F401
from service.db import Base, Database, include_in_schema_comparison
from service.migrate import current_revision, downgrade, head_revision, upgrade
from tests.conftest import BACKENDS, drop_schema, fresh_database_url


@pytest.fixture(params=BACKENDS)
def empty_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[URL]:
    url, schema = fresh_database_url(request.param, tmp_path)
    yield url
    if schema:
        drop_schema(schema)


def test_models_match_migrations(migrated_url: URL) -> None:
    db = Database(migrated_url)
    with db.engine.connect() as conn:
        context = MigrationContext.configure(
            conn, opts={"include_object": include_in_schema_comparison}
        )
        diff = compare_metadata(context, Base.metadata)
    db.dispose()
    assert diff == [], f"models and migrations differ: {diff}"


def test_upgrade_downgrade_upgrade(empty_url: URL) -> None:
    db = Database(empty_url)
    assert current_revision(db.engine) is None
    upgrade(empty_url)
    assert current_revision(db.engine) == head_revision()
    tables = set(inspect(db.engine).get_table_names())
    assert {"brands", "alerts", "alert_events", "alert_techniques", "api_keys"} <= tables
    downgrade(empty_url, "base")
    assert current_revision(db.engine) is None
    assert set(inspect(db.engine).get_table_names()) <= {"alembic_version"}
    upgrade(empty_url)
    assert current_revision(db.engine) == head_revision()
    db.dispose()


def test_downgrades_keep_the_rows_of_child_tables(empty_url: URL) -> None:
    """SQLite rebuilds a table to drop a column; its children's rows must survive that."""
    from service.alerts.models import AlertSource
    from service.alerts.service import Evidence, record
    from service.brands.schemas import BrandCreate
    from service.brands.service import create_brand

    upgrade(empty_url)
    db = Database(empty_url)
    with db.session() as session:
        brand_id = create_brand(session, BrandCreate(name="PayPal", domains=["paypal.com"])).id
        record(
            session,
            Evidence(
                brand_id=brand_id,
                domain="paypa1.com",
                registrable="paypa1.com",
                unicode="paypa1.com",
                score=80,
                reasons=[{"technique": "typo", "detail": "test"}],
                source=AlertSource.CT,
            ),
        )

    def count(table: str) -> int:
        with db.engine.connect() as conn:
            return int(conn.exec_driver_sql(f"SELECT count(*) FROM {table}").scalar_one())

    before = (count("alert_events"), count("alert_techniques"))
    assert before[0] >= 1
    downgrade(empty_url, "0004")  # drops columns of alerts (0008, 0005) and more
    assert (count("alert_events"), count("alert_techniques")) == before
    upgrade(empty_url)
    assert (count("alert_events"), count("alert_techniques")) == before
    db.dispose()

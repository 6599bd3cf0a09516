"""Shared fixtures: a migrated database per backend (SQLite always, PostgreSQL when configured)."""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.engine import URL, make_url

from service.app import create_app
from service.auth.service import create_key
from service.config import Settings, normalize_database_url
from service.db import Base, Database
from service.migrate import upgrade

PG_ENV = "PHANTOMWATCH_TEST_DATABASE_URL"
BACKENDS = ["sqlite"] + (["postgresql"] if os.environ.get(PG_ENV) else [])
SHARED_DATA = Path(__file__).resolve().parent.parent.parent / "shared" / "data"


def shared_data(relative: str) -> Path:
    """A file of ../shared/data, or skip the test saying why."""
    path = SHARED_DATA / relative
    if not path.exists():
        pytest.skip(f"reference data {relative} is absent (../shared/data is not in a fresh clone)")
    return path


def _pg_url_with_schema(schema: str) -> URL:
    url = normalize_database_url(os.environ[PG_ENV])
    return url.update_query_dict({"options": f"-csearch_path={schema}"})


def fresh_database_url(backend: str, tmp_path: Path) -> tuple[URL, str | None]:
    """An empty database: a new SQLite file, or a new PostgreSQL schema (returned for cleanup)."""
    if backend == "sqlite":
        return make_url(f"sqlite:///{tmp_path / 'phantomwatch.db'}"), None
    schema = f"pw_test_{secrets.token_hex(6)}"
    base = Database(normalize_database_url(os.environ[PG_ENV]))
    with base.engine.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    base.dispose()
    return _pg_url_with_schema(schema), schema


def drop_schema(schema: str) -> None:
    base = Database(normalize_database_url(os.environ[PG_ENV]))
    with base.engine.begin() as conn:
        conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
    base.dispose()


@pytest.fixture(scope="session", params=BACKENDS)
def migrated_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[URL]:
    """A database migrated with Alembic once per backend and test session."""
    url, schema = fresh_database_url(request.param, tmp_path_factory.mktemp(request.param))
    upgrade(url)
    yield url
    if schema:
        drop_schema(schema)


@pytest.fixture
def database(migrated_url: URL) -> Iterator[Database]:
    """The migrated database, emptied after each test."""
    db = Database(migrated_url)
    yield db
    tables = [t.name for t in reversed(Base.metadata.sorted_tables)]
    with db.engine.begin() as conn:
        if db.engine.dialect.name == "postgresql":
            conn.execute(text(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE"))
        else:
            for table in tables:
                conn.execute(text(f"DELETE FROM {table}"))
    db.dispose()


@pytest.fixture
def settings(migrated_url: URL, tmp_path: Path) -> Settings:
    # Kept zone versions and feed locks go to the test's own directory, on both stores.
    return Settings(
        database_url=migrated_url.render_as_string(hide_password=False),
        feeds_state_dir=str(tmp_path / "feeds"),
    )


@pytest.fixture
def client(settings: Settings, database: Database) -> Iterator[TestClient]:
    with TestClient(create_app(settings, database)) as test_client:
        yield test_client


def _key(database: Database, scope: str) -> str:
    with database.session() as session:
        _, plaintext = create_key(session, f"{scope}-key", [scope])
    return plaintext


@pytest.fixture
def admin_headers(database: Database) -> dict[str, str]:
    return {"Authorization": f"Bearer {_key(database, 'admin')}"}


@pytest.fixture
def write_headers(database: Database) -> dict[str, str]:
    return {"Authorization": f"Bearer {_key(database, 'write')}"}


@pytest.fixture
def read_headers(database: Database) -> dict[str, str]:
    return {"X-API-Key": _key(database, "read")}

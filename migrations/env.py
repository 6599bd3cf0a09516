"""Alembic environment: runs migrations against the URL set by service.migrate (or the settings)."""

from __future__ import annotations

from alembic import context

import service.models  # noqa: F401  (fills the metadata)
from service.config import get_settings, normalize_database_url
from service.db import Base, include_in_schema_comparison, make_engine

config = context.config
url = config.get_main_option("sqlalchemy.url") or get_settings().sqlalchemy_url.render_as_string(
    hide_password=False
)
target_metadata = Base.metadata


def run_offline() -> None:
    context.configure(url=url, target_metadata=target_metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()


def run_online() -> None:
    # The service's own engine: same SQLite pragmas and transaction handling, and the
    # directory of a new SQLite file is created.
    connectable = make_engine(normalize_database_url(url))
    with connectable.connect() as connection:
        sqlite = connection.dialect.name == "sqlite"
        if sqlite:
            # Batch operations rebuild a table (copy, drop, rename); with foreign keys
            # on, dropping the old table would cascade into its children and delete
            # their rows. The pragma only takes effect outside a transaction.
            connection.connection.driver_connection.execute("PRAGMA foreign_keys=OFF")  # type: ignore[union-attr]
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            render_as_batch=sqlite,
            compare_type=True,
            include_object=include_in_schema_comparison,
        )
        with context.begin_transaction():
            context.run_migrations()
            if sqlite:
                broken = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
                if broken:
                    raise RuntimeError(f"migration left dangling references: {broken[:5]}")
    connectable.dispose()


if context.is_offline_mode():
    run_offline()
else:
    run_online()

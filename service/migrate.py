"""Alembic wiring: upgrade or downgrade the schema, and check a database is at the head."""

from __future__ import annotations

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine
from sqlalchemy.engine import URL

from service.config import ConfigError
from service.db import MIGRATIONS_DIR


def alembic_config(url: URL) -> Config:
    """An Alembic config pointing at the bundled migrations and the given database."""
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    # ConfigParser interpolation would choke on '%' in passwords.
    cfg.set_main_option(
        "sqlalchemy.url", url.render_as_string(hide_password=False).replace("%", "%%")
    )
    return cfg


def upgrade(url: URL, revision: str = "head") -> None:
    """Apply migrations up to a revision."""
    command.upgrade(alembic_config(url), revision)


def downgrade(url: URL, revision: str = "base") -> None:
    """Revert migrations down to a revision."""
    command.downgrade(alembic_config(url), revision)


def head_revision() -> str:
    """The newest revision shipped with this code."""
    script = ScriptDirectory(str(MIGRATIONS_DIR))
    head = script.get_current_head()
    if head is None:
        raise ConfigError("no migrations found in " + str(MIGRATIONS_DIR))
    return head


def current_revision(engine: Engine) -> str | None:
    """The revision the database is at, or None when it was never migrated."""
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def ensure_current(engine: Engine) -> None:
    """Refuse to run on a database that is not at the code's head revision."""
    current = current_revision(engine)
    head = head_revision()
    if current != head:
        state = "was never migrated" if current is None else f"is at revision {current}"
        raise ConfigError(
            f"the database {state}, this code needs {head}: run `phantomwatch migrate` first"
        )

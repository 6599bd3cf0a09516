"""Watch list: removed generated names stay removed; when a watched name was seen free.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-27 17:05:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("watch_entries", schema=None) as batch_op:
        batch_op.add_column(sa.Column("free_since", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("free_until", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("removed_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("watch_entries", schema=None) as batch_op:
        batch_op.drop_column("removed_at")
        batch_op.drop_column("free_until")
        batch_op.drop_column("free_since")

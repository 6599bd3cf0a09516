"""CT logs: per-log cursor, compact range, verified tree head, health, lease; malformed entries

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-27 12:12:37.263131
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "ct_logs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("log_id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("operator", sa.String(length=200), nullable=False),
        sa.Column("protocol", sa.String(length=16), nullable=False),
        sa.Column("url", sa.String(length=500), nullable=False),
        sa.Column("submission_url", sa.String(length=500), nullable=True),
        sa.Column("key", sa.Text(), nullable=False),
        sa.Column("mmd", sa.Integer(), nullable=False),
        sa.Column("list_state", sa.String(length=16), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("next_index", sa.BigInteger(), nullable=False),
        sa.Column(
            "compact_range", sa.JSON().with_variant(postgresql.JSONB(), "postgresql"), nullable=True
        ),
        sa.Column(
            "verified_head", sa.JSON().with_variant(postgresql.JSONB(), "postgresql"), nullable=True
        ),
        sa.Column(
            "latest_head", sa.JSON().with_variant(postgresql.JSONB(), "postgresql"), nullable=True
        ),
        sa.Column("entries_processed", sa.BigInteger(), nullable=False),
        sa.Column("names_scored", sa.BigInteger(), nullable=False),
        sa.Column("malformed_entries", sa.BigInteger(), nullable=False),
        sa.Column("entries_per_second", sa.Double(), nullable=True),
        sa.Column("healthy", sa.Boolean(), nullable=False),
        sa.Column("health_detail", sa.Text(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("last_error_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_success_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("lease_owner", sa.String(length=100), nullable=True),
        sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ct_logs")),
        sa.UniqueConstraint("log_id", name=op.f("uq_ct_logs_log_id")),
    )
    op.create_table(
        "ct_malformed_entries",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("log_id", sa.Integer(), nullable=False),
        sa.Column("entry_index", sa.BigInteger(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["log_id"],
            ["ct_logs.id"],
            name=op.f("fk_ct_malformed_entries_log_id_ct_logs"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ct_malformed_entries")),
    )
    with op.batch_alter_table("ct_malformed_entries", schema=None) as batch_op:
        batch_op.create_index(
            "ix_ct_malformed_entries_log_index", ["log_id", "entry_index"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("ct_malformed_entries", schema=None) as batch_op:
        batch_op.drop_index("ix_ct_malformed_entries_log_index")

    op.drop_table("ct_malformed_entries")
    op.drop_table("ct_logs")

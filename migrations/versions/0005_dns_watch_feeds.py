"""DNS intelligence: watched names, DNS snapshots of alerts, feed cursors.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-27 12:24:26.532184
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "feed_cursors",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=500), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("last_digest", sa.String(length=64), nullable=True),
        sa.Column("pending_digest", sa.String(length=64), nullable=True),
        sa.Column("position", sa.BigInteger(), nullable=False),
        sa.Column("previous_path", sa.Text(), nullable=True),
        sa.Column("items_processed", sa.BigInteger(), nullable=False),
        sa.Column("alerts_created", sa.BigInteger(), nullable=False),
        sa.Column("last_processed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_feed_cursors")),
        sa.UniqueConstraint("name", name=op.f("uq_feed_cursors_name")),
    )
    op.create_table(
        "watch_entries",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("brand_id", sa.Integer(), nullable=False),
        sa.Column("domain", sa.String(length=253), nullable=False),
        sa.Column("unicode", sa.String(length=1024), nullable=False),
        sa.Column("origin", sa.String(length=16), nullable=False),
        sa.Column("technique", sa.String(length=64), nullable=True),
        sa.Column("predicted_score", sa.Integer(), nullable=True),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("last_checked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("next_check_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("registered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_detail", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["brand_id"],
            ["brands.id"],
            name=op.f("fk_watch_entries_brand_id_brands"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_watch_entries")),
        sa.UniqueConstraint("brand_id", "domain", name="uq_watch_entries_brand_domain"),
    )
    with op.batch_alter_table("watch_entries", schema=None) as batch_op:
        batch_op.create_index("ix_watch_entries_next_check_at", ["next_check_at"], unique=False)

    op.create_table(
        "dns_snapshots",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("alert_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("taken_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("data", sa.JSON().with_variant(postgresql.JSONB(), "postgresql"), nullable=False),
        sa.Column(
            "changes", sa.JSON().with_variant(postgresql.JSONB(), "postgresql"), nullable=False
        ),
        sa.ForeignKeyConstraint(
            ["alert_id"],
            ["alerts.id"],
            name=op.f("fk_dns_snapshots_alert_id_alerts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dns_snapshots")),
    )
    with op.batch_alter_table("dns_snapshots", schema=None) as batch_op:
        batch_op.create_index(
            "ix_dns_snapshots_alert_taken", ["alert_id", "taken_at"], unique=False
        )

    with op.batch_alter_table("alerts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("dns_state", sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column("dns_checked_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.create_index(
            batch_op.f("ix_alerts_dns_checked_at"), ["dns_checked_at"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("alerts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_alerts_dns_checked_at"))
        batch_op.drop_column("dns_checked_at")
        batch_op.drop_column("dns_state")

    with op.batch_alter_table("dns_snapshots", schema=None) as batch_op:
        batch_op.drop_index("ix_dns_snapshots_alert_taken")

    op.drop_table("dns_snapshots")
    with op.batch_alter_table("watch_entries", schema=None) as batch_op:
        batch_op.drop_index("ix_watch_entries_next_check_at")

    op.drop_table("watch_entries")
    op.drop_table("feed_cursors")

"""Phantom discovery: probe runs and the hallucinated names they found.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-27 12:50:34.582864
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "phantom_candidates",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("brand_id", sa.Integer(), nullable=False),
        sa.Column("domain", sa.String(length=253), nullable=False),
        sa.Column("hosts", sa.JSON(), nullable=False),
        sa.Column("models", sa.JSON(), nullable=False),
        sa.Column("intents", sa.JSON(), nullable=False),
        sa.Column("mentions", sa.Integer(), nullable=False),
        sa.Column("samples_with", sa.Integer(), nullable=False),
        sa.Column("total_samples", sa.Integer(), nullable=False),
        sa.Column("rank_score", sa.Double(), nullable=False),
        sa.Column("first_seen", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["brand_id"],
            ["brands.id"],
            name=op.f("fk_phantom_candidates_brand_id_brands"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_phantom_candidates")),
        sa.UniqueConstraint("brand_id", "domain", name="uq_phantom_candidates_brand_domain"),
    )
    op.create_table(
        "phantom_runs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("brand_id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("requests_made", sa.Integer(), nullable=False),
        sa.Column("samples", sa.Integer(), nullable=False),
        sa.Column("budget_exhausted", sa.Boolean(), nullable=False),
        sa.Column("candidates_found", sa.Integer(), nullable=False),
        sa.Column("model_stats", sa.JSON(), nullable=False),
        sa.Column("errors", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["brand_id"],
            ["brands.id"],
            name=op.f("fk_phantom_runs_brand_id_brands"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_phantom_runs")),
    )
    with op.batch_alter_table("phantom_runs", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_phantom_runs_brand_id"), ["brand_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("phantom_runs", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_phantom_runs_brand_id"))

    op.drop_table("phantom_runs")
    op.drop_table("phantom_candidates")

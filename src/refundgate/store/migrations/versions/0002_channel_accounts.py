"""channel accounts

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-27 14:20:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # mch_id '' is the gateway's default account (no merchant's mchId is empty).
    op.create_table(
        "channel_accounts",
        sa.Column("mch_id", sa.String(length=30), nullable=False),
        sa.Column("family", sa.String(length=16), nullable=False),
        sa.Column("credentials", sa.Text(), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("mch_id", "family"),
    )


def downgrade() -> None:
    op.drop_table("channel_accounts")

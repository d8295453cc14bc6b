"""channel exchanges

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-28 03:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "channel_exchanges",
        sa.Column("exchange_id", sa.Integer(), nullable=False, autoincrement=True),
        sa.Column("refund_order_id", sa.String(length=32), nullable=False),
        sa.Column("family", sa.String(length=16), nullable=False),
        sa.Column("operation", sa.String(length=64), nullable=False),
        sa.Column("at", sa.BigInteger(), nullable=False),
        sa.Column("request", sa.Text(), nullable=False),
        sa.Column("status_code", sa.Integer(), nullable=True),
        sa.Column("answer", sa.Text(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("exchange_id"),
    )
    op.create_index(
        "ix_channel_exchanges_refund", "channel_exchanges", ["refund_order_id", "exchange_id"]
    )


def downgrade() -> None:
    op.drop_index("ix_channel_exchanges_refund", table_name="channel_exchanges")
    op.drop_table("channel_exchanges")

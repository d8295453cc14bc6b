"""notification deliveries

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-27 15:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("notifications", sa.Column("lease_token", sa.String(length=32), nullable=True))
    op.create_table(
        "notification_deliveries",
        sa.Column("delivery_id", sa.Integer(), nullable=False, autoincrement=True),
        sa.Column("notification_id", sa.Integer(), nullable=False),
        sa.Column("mch_id", sa.String(length=30), nullable=False),
        sa.Column("refund_order_id", sa.String(length=32), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("at", sa.BigInteger(), nullable=False),
        sa.Column("url", sa.String(length=200), nullable=False),
        sa.Column("http_status", sa.Integer(), nullable=True),
        sa.Column("response_excerpt", sa.String(length=256), nullable=True),
        sa.Column("error", sa.String(length=256), nullable=True),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.PrimaryKeyConstraint("delivery_id"),
    )
    op.create_index(
        "ix_notification_deliveries_refund",
        "notification_deliveries",
        ["refund_order_id", "delivery_id"],
    )


def downgrade() -> None:
    op.drop_index("ix_notification_deliveries_refund", table_name="notification_deliveries")
    op.drop_table("notification_deliveries")
    op.drop_column("notifications", "lease_token")

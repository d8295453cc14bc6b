"""The schema, in SQLAlchemy Core: the source the migrations are checked against.

Every hot key leads with ``mch_id`` so the schema can later be distributed by
merchant. Times are epoch milliseconds; amounts are minor units. The CHECK on
``pay_orders`` is G1 held by the database itself, under any code path.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    Index,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    UniqueConstraint,
)

__all__ = [
    "DEFAULT_ACCOUNT",
    "channel_accounts",
    "channel_exchanges",
    "merchants",
    "metadata",
    "notification_deliveries",
    "notifications",
    "operators",
    "pay_orders",
    "refund_events",
    "refunds",
]

metadata = MetaData()

merchants = Table(
    "merchants",
    metadata,
    Column("mch_id", String(30), primary_key=True),
    Column("name", String(128), nullable=False, server_default=""),
    Column("status", String(16), nullable=False),
    Column("sign_key", String(128), nullable=False),
    Column("previous_key", String(128)),
    Column("previous_key_expires_at", BigInteger),
    Column("notify_url", String(200)),
    Column("created_at", BigInteger, nullable=False),
)

operators = Table(
    "operators",
    metadata,
    Column("mch_id", String(30), nullable=False),
    Column("login_name", String(32), nullable=False),
    Column("may_refund", Boolean, nullable=False),
    Column("active", Boolean, nullable=False),
    Column("created_at", BigInteger, nullable=False),
    PrimaryKeyConstraint("mch_id", "login_name"),
)

#: ``channel_accounts.mch_id`` of the gateway's default account: no mchId is empty.
DEFAULT_ACCOUNT = ""

channel_accounts = Table(
    "channel_accounts",
    metadata,
    Column("mch_id", String(30), nullable=False),
    Column("family", String(16), nullable=False),
    Column("credentials", Text, nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("updated_at", BigInteger, nullable=False),
    PrimaryKeyConstraint("mch_id", "family"),
)

pay_orders = Table(
    "pay_orders",
    metadata,
    Column("mch_id", String(30), nullable=False),
    Column("pay_order_id", String(64), nullable=False),
    Column("mch_order_no", String(64)),
    Column("channel_id", String(24), nullable=False),
    Column("channel_order_no", String(64)),
    Column("currency", String(3), nullable=False),
    Column("amount", BigInteger, nullable=False),
    Column("paid_at", BigInteger, nullable=False),
    Column("status", String(16), nullable=False),
    Column("refunded_amount", BigInteger, nullable=False, server_default="0"),
    Column("reserved_amount", BigInteger, nullable=False, server_default="0"),
    Column("refund_count", Integer, nullable=False, server_default="0"),
    Column("last_refund_at", BigInteger),
    Column("sandbox_outcome", String(16)),
    PrimaryKeyConstraint("mch_id", "pay_order_id"),
    CheckConstraint("amount > 0", name="ck_pay_orders_amount_positive"),
    CheckConstraint(
        "refunded_amount >= 0 AND reserved_amount >= 0 AND refund_count >= 0",
        name="ck_pay_orders_balances_not_negative",
    ),
    CheckConstraint(
        "refunded_amount + reserved_amount <= amount", name="ck_pay_orders_never_over_refunded"
    ),
)

refunds = Table(
    "refunds",
    metadata,
    Column("refund_order_id", String(32), primary_key=True),
    Column("mch_id", String(30), nullable=False),
    Column("mch_refund_no", String(30), nullable=False),
    Column("pay_order_id", String(64), nullable=False),
    Column("channel_id", String(24), nullable=False),
    Column("amount", BigInteger, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("status", String(16), nullable=False),
    Column("login_name", String(32), nullable=False),
    Column("client_ip", String(64), nullable=False),
    Column("device", String(64)),
    Column("notify_url", String(200)),
    Column("request_extra", Text),
    Column("channel_refund_id", String(64)),
    Column("err_code", String(64)),
    Column("err_msg", String(256)),
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("next_check_at", BigInteger),
    Column("created_at", BigInteger, nullable=False),
    Column("updated_at", BigInteger, nullable=False),
    Column("succeeded_at", BigInteger),
    UniqueConstraint("mch_id", "mch_refund_no", name="uq_refunds_mch_refund_no"),
    CheckConstraint("amount > 0", name="ck_refunds_amount_positive"),
    Index("ix_refunds_order", "mch_id", "pay_order_id"),
    Index("ix_refunds_status_check", "status", "next_check_at"),
)

refund_events = Table(
    "refund_events",
    metadata,
    Column("event_id", Integer, primary_key=True, autoincrement=True),
    Column("refund_order_id", String(32), nullable=False),
    Column("mch_id", String(30), nullable=False),
    Column("at", BigInteger, nullable=False),
    Column("kind", String(32), nullable=False),
    Column("from_status", String(16)),
    Column("to_status", String(16), nullable=False),
    Column("login_name", String(32)),
    Column("client_ip", String(64)),
    Column("reason", Text, nullable=False),
    Column("detail", Text),
    Index("ix_refund_events_refund", "refund_order_id", "event_id"),
)

notifications = Table(
    "notifications",
    metadata,
    Column("notification_id", Integer, primary_key=True, autoincrement=True),
    Column("refund_order_id", String(32), nullable=False),
    Column("mch_id", String(30), nullable=False),
    Column("notify_url", String(200), nullable=False),
    Column("refund_status", String(16), nullable=False),
    Column("state", String(16), nullable=False),
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("next_attempt_at", BigInteger, nullable=False),
    Column("created_at", BigInteger, nullable=False),
    # The worker holding the row: set by a lease, cleared when its attempt is recorded.
    Column("lease_token", String(32)),
    UniqueConstraint("refund_order_id", "refund_status", name="uq_notifications_refund_status"),
    Index("ix_notifications_due", "state", "next_attempt_at"),
)

#: The delivery log: one row per attempt, with a bounded excerpt of the answer.
notification_deliveries = Table(
    "notification_deliveries",
    metadata,
    Column("delivery_id", Integer, primary_key=True, autoincrement=True),
    Column("notification_id", Integer, nullable=False),
    Column("mch_id", String(30), nullable=False),
    Column("refund_order_id", String(32), nullable=False),
    Column("attempt", Integer, nullable=False),
    Column("at", BigInteger, nullable=False),
    Column("url", String(200), nullable=False),
    Column("http_status", Integer),
    Column("response_excerpt", String(256)),
    Column("error", String(256)),
    Column("outcome", String(16), nullable=False),
    Index("ix_notification_deliveries_refund", "refund_order_id", "delivery_id"),
)

#: The record of channel calls (G6): one row per call, secrets masked.
channel_exchanges = Table(
    "channel_exchanges",
    metadata,
    Column("exchange_id", Integer, primary_key=True, autoincrement=True),
    Column("refund_order_id", String(32), nullable=False),
    Column("family", String(16), nullable=False),
    Column("operation", String(64), nullable=False),
    Column("at", BigInteger, nullable=False),
    Column("request", Text, nullable=False),
    Column("status_code", Integer),
    Column("answer", Text),
    Column("error", Text),
    Index("ix_channel_exchanges_refund", "refund_order_id", "exchange_id"),
)

"""The conditions of a reservation, as SQL both stores run.

Both stores reserve with a statement that takes nothing unless two
conditions hold: the domain's refund rules for the order ``o``
(``domain.rules.check_refund``: status, balance, currency, channel, the
channel policy table) and that the stored merchant and operator still grant
what the request was authorized against (``Access.still_holds``). So the
common case needs no read of the order or the merchant and no Python between
statements. When the statement takes nothing, the store reads both and lets
the domain say why; a property test per store holds the SQL to
``check_refund``.

The SQL is the same on both stores but for how a parameter is written
(``$5`` and ``$6::text`` on PostgreSQL, ``?5`` on SQLite) and for null-safe
equality; every literal in it comes from our own code (the channel policy
table), never from a request.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from refundgate.domain.channels import ChannelPolicy, policy_rules
from refundgate.domain.merchant import Access
from refundgate.domain.model import RefundDraft
from refundgate.store.rows import json_text

__all__ = [
    "POSTGRES",
    "SQLITE",
    "Dialect",
    "authority_arguments",
    "authority_holds",
    "order_takes_refund",
    "reservation_arguments",
]

_MS = timedelta(milliseconds=1)


@dataclass(frozen=True, slots=True)
class Dialect:
    """How a store writes what differs between the two SQLs used here."""

    #: Parameter ``n``, with its SQL type where nothing else in the statement tells it.
    parameter: Callable[[int, str | None], str]
    #: Null-safe equality.
    same: str


POSTGRES = Dialect(
    parameter=lambda number, sql_type: f"${number}::{sql_type}" if sql_type else f"${number}",
    same="IS NOT DISTINCT FROM",
)
# SQLite's parameters take the type of their value; ``IS`` is its null-safe
# equality in every version (``IS NOT DISTINCT FROM`` only from 3.39).
SQLITE = Dialect(parameter=lambda number, sql_type: f"?{number}", same="IS")


def order_takes_refund(dialect: Dialect) -> str:
    """SQL true where order ``o`` may take the refund the parameters describe.

    Parameters, by number: 1 mch_id, 3 pay_order_id, 4 amount, 5 now (ms),
    6 currency or NULL, 7 channel_id or NULL (the numbering of PostgreSQL's
    reservation statement, which SQLite's follows).
    """
    parameter = dialect.parameter
    now = parameter(5, None)
    currency, channel = parameter(6, "text"), parameter(7, "text")
    return (
        f"o.mch_id = {parameter(1, None)} AND o.pay_order_id = {parameter(3, None)}"
        f" AND o.status = 'PAID'"
        f" AND o.refunded_amount + o.reserved_amount + {parameter(4, None)} <= o.amount"
        f" AND ({currency} IS NULL OR o.currency = {parameter(6, None)})"
        f" AND ({channel} IS NULL OR o.channel_id = {parameter(7, None)})"
        f" AND ({_channel_rules_hold(now)})"
    )


def _policy_holds(policy: ChannelPolicy, now: str) -> str:
    """SQL true where order ``o`` may take one more refund at ``now`` under ``policy``."""
    conditions = [f"{now} - o.paid_at <= {policy.window // _MS}"]
    if policy.max_refunds is not None:
        conditions.append(f"o.refund_count < {policy.max_refunds}")
    spacing = policy.min_spacing // _MS
    if spacing:
        conditions.append(f"(o.last_refund_at IS NULL OR {now} - o.last_refund_at >= {spacing})")
    return " AND ".join(conditions)


def _channel_rules_hold(now: str) -> str:
    """The domain's channel policy table as one SQL ``CASE``."""
    branches = []
    for rule in policy_rules():
        if rule.exact:
            match = f"o.channel_id = '{rule.pattern}'"
        else:
            match = (
                f"substr(o.channel_id, 1, {len(rule.pattern)}) = '{rule.pattern}'"
                f" AND length(o.channel_id) > {len(rule.pattern)}"
            )
        holds = _policy_holds(rule.policy, now) if rule.policy else "false"
        branches.append(f"WHEN {match} THEN {holds}")
    return "CASE " + " ".join(branches) + " ELSE false END"


def authority_holds(dialect: Dialect) -> str:
    """SQL true where the stored merchant and operator still grant what the request
    was authorized against (``Access.still_holds``, in SQL), or where it names none.

    Parameters, by number: 1 mch_id, 9 login_name, 14-19 :func:`authority_arguments`.
    """
    p, same = dialect.parameter, dialect.same
    return (
        f"({p(14, 'text')} IS NULL OR EXISTS ("
        " SELECT 1 FROM merchants AS m"
        f" LEFT JOIN operators AS op ON op.mch_id = m.mch_id AND op.login_name = {p(9, None)}"
        f" WHERE m.mch_id = {p(1, None)} AND m.sign_key = {p(14, None)}"
        f" AND m.status = {p(15, 'text')}"
        f" AND NULLIF(m.previous_key, '') {same} {p(16, 'text')}"
        f" AND m.previous_key_expires_at {same} {p(17, 'bigint')}"
        f" AND op.may_refund {same} {p(18, 'boolean')}"
        f" AND op.active {same} {p(19, 'boolean')}))"
    )


def authority_arguments(authority: Access | None) -> tuple[object, ...]:
    """Parameters 14-19 of :func:`authority_holds`: the merchant's key, status,
    previous key and its expiry, the operator's right and activity; all None
    when the request names no authority."""
    if authority is None:
        return (None,) * 6
    merchant, operator = authority.merchant, authority.operator
    previous = merchant.previous_key.reveal() if merchant.previous_key else None
    return (
        merchant.key.reveal(), merchant.status.value, previous, merchant.previous_key_expires_at,
        operator.may_refund if operator else None, operator.active if operator else None,
    )  # fmt: skip


def reservation_arguments(draft: RefundDraft) -> tuple[object, ...]:
    """The parameters of both stores' reservation statements, by number: 1 mch_id,
    2 mch_refund_no, 3 pay_order_id, 4 amount, 5 now, 6 currency, 7 channel_id,
    8 refund_order_id, 9 login_name, 10 client_ip, 11 device, 12 notify_url,
    13 the request's other fields as JSON (or NULL), 14-19 :func:`authority_arguments`."""
    request = draft.request
    return (
        request.mch_id, request.mch_refund_no, request.pay_order_id, request.amount,
        draft.requested_at, request.currency, request.channel_id, draft.refund_order_id,
        request.login_name, request.client_ip, request.device, request.notify_url,
        json_text(request.extra), *authority_arguments(draft.authority),
    )  # fmt: skip

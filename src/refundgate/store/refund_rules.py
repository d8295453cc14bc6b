"""The domain's refund rules (``domain.rules.check_refund``) as one SQL condition.

Both stores reserve with a statement that changes nothing unless this
condition holds for the order ``o``, so the common case needs no read of the
order and no Python between statements. When it does not hold, the store
reads the order and lets :func:`~refundgate.domain.rules.check_refund` say
why; the store contract suite holds the two to the same answers.

The SQL is the same on both stores but for how a parameter is written
(``$5`` and ``$6::text`` on PostgreSQL, ``?5`` on SQLite); every literal in it
comes from our own code (the channel policy table), never from a request.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from refundgate.domain.channels import ChannelPolicy, policy_rules

__all__ = ["order_takes_refund", "postgres_parameter", "sqlite_parameter"]

_MS = timedelta(milliseconds=1)

#: How a store writes parameter ``n``, given its SQL type where nothing else tells it.
Parameter = Callable[[int, str | None], str]


def postgres_parameter(number: int, sql_type: str | None) -> str:
    return f"${number}::{sql_type}" if sql_type else f"${number}"


def sqlite_parameter(number: int, sql_type: str | None) -> str:
    del sql_type  # SQLite's parameters take the type of their value
    return f"?{number}"


def order_takes_refund(parameter: Parameter) -> str:
    """SQL true where order ``o`` may take the refund the parameters describe.

    Parameters, by number: 1 mch_id, 3 pay_order_id, 4 amount, 5 now (ms),
    6 currency or NULL, 7 channel_id or NULL (the numbering of PostgreSQL's
    reservation statement, which SQLite's follows).
    """
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

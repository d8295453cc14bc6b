"""Channel callbacks: WeChat refund notifies and UnionPay backUrl notifies.

A callback is tried against every account of its channel (each verifies with
its own keys); the first that verifies it names the refund and the outcome,
which goes through :func:`~refundgate.service.apply_outcome`, the path submit
uses, so a duplicate or late callback is a no-op that is still acknowledged.
A callback nobody can verify is refused with the channel's own refusal and
changes nothing. If the outcome cannot be recorded, the callback is refused
too, so the channel sends it again.
"""

from __future__ import annotations

import structlog

from refundgate.domain.channels import ChannelFamily
from refundgate.domain.errors import RefundNotFound
from refundgate.ports import (
    CallbackInvalid,
    CallbackParser,
    ChannelCallback,
    ChannelExchange,
    StoreError,
)
from refundgate.service import Deps, apply_outcome, exchanges

__all__ = ["CALLBACK_PATHS", "callback_answer"]

#: Path → the channel that calls it.
CALLBACK_PATHS = {
    "/v1/channels/wechat/notify": ChannelFamily.WECHAT,
    "/v1/channels/unionpay/notify": ChannelFamily.UNIONPAY,
}

Reply = tuple[int, bytes, str]

_NO_ACCOUNT: Reply = (404, b"no account for this channel", "text/plain; charset=utf-8")
_RETRY: Reply = (503, b"try again later", "text/plain; charset=utf-8")

_log = structlog.get_logger("refundgate.api")


Parsers = list[tuple[str | None, CallbackParser]]


async def _belongs(deps: Deps, owner: str | None, refund_order_id: str) -> bool:
    """Whether the account that verified a callback may speak of this refund.

    A merchant knows its own account's keys, so a callback signed with them is
    believed only about that merchant's refunds. The default account's keys
    are the operator's alone.
    """
    if owner is None:
        return True
    return await deps.store.find_refund(owner, refund_order_id=refund_order_id) is not None


async def _trusted(
    deps: Deps, parsers: Parsers, body: bytes, content_type: str
) -> ChannelCallback | None:
    """The callback as read by the first account that verifies it and may speak of
    its refund; None if there is none."""
    for owner, parser in parsers:
        try:
            callback = parser.parse_callback(body, content_type)
        except CallbackInvalid:
            continue
        if await _belongs(deps, owner, callback.refund_order_id):
            return callback
    return None


async def callback_answer(
    deps: Deps, family: ChannelFamily, body: bytes, content_type: str
) -> Reply:
    """Verify, apply and acknowledge one callback; status, body and content type."""
    parsers = await deps.resolver.callback_parsers(family) if deps.resolver else []
    if not parsers:
        return _NO_ACCOUNT
    try:
        callback = await _trusted(deps, parsers, body, content_type)
    except StoreError as exc:
        _log.error("callback_not_checked", channel=family.value, error=str(exc))
        return _RETRY
    if callback is None:
        _log.warning("callback_refused", channel=family.value)
        return parsers[0][1].reject_callback()
    reply = await _apply(deps, callback)
    if reply is None:
        return 200, callback.ack_body, callback.ack_content_type  # not our refund: nothing kept
    await _keep(deps, family, callback.refund_order_id, body, reply)
    return reply


async def _apply(deps: Deps, callback: ChannelCallback) -> Reply | None:
    """The answer to a verified callback once applied; None if its refund is not ours."""
    try:
        await apply_outcome(deps, callback.refund_order_id, callback.outcome)
    except RefundNotFound:
        # Verified with the default account, but not ours (another system on
        # the same account): refusing would only make the channel retry for days.
        _log.warning("callback_unknown_refund", refund_order_id=callback.refund_order_id)
        return None
    except StoreError as exc:
        _log.error(
            "callback_not_recorded", refund_order_id=callback.refund_order_id, error=str(exc)
        )
        return _RETRY
    return 200, callback.ack_body, callback.ack_content_type


async def _keep(
    deps: Deps, family: ChannelFamily, refund_order_id: str, body: bytes, reply: Reply
) -> None:
    """Keep the callback with its refund (G6): what the channel sent, and our answer.
    Its body holds no key (WeChat encrypts the refund's details; UnionPay signs)."""
    status, answer, _ = reply
    received = ChannelExchange(
        family.value, "notify", deps.clock.now_ms(), body.decode("utf-8", "replace"),
        status, answer.decode("utf-8", "replace"),
    )  # fmt: skip
    await exchanges.keep(deps.store, refund_order_id, [received])

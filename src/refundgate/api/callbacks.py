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
from refundgate.ports import CallbackInvalid, CallbackParser, ChannelCallback, StoreError
from refundgate.service import Deps, apply_outcome

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


def _verified(parsers: list[CallbackParser], body: bytes, content_type: str) -> ChannelCallback:
    for parser in parsers:
        try:
            return parser.parse_callback(body, content_type)
        except CallbackInvalid:
            continue
    raise CallbackInvalid("no account of this channel verifies the callback")


async def callback_answer(
    deps: Deps, family: ChannelFamily, body: bytes, content_type: str
) -> Reply:
    """Verify, apply and acknowledge one callback; status, body and content type."""
    parsers = await deps.resolver.callback_parsers(family) if deps.resolver else []
    if not parsers:
        return _NO_ACCOUNT
    try:
        callback = _verified(parsers, body, content_type)
    except CallbackInvalid as exc:
        _log.warning("callback_refused", channel=family.value, reason=str(exc))
        return parsers[0].reject_callback()
    try:
        await apply_outcome(deps, callback.refund_order_id, callback.outcome)
    except RefundNotFound:
        # Verified, but not ours (another system on the same account): saying
        # so would only make the channel retry for days.
        _log.warning("callback_unknown_refund", refund_order_id=callback.refund_order_id)
    except StoreError as exc:
        _log.error(
            "callback_not_recorded", refund_order_id=callback.refund_order_id, error=str(exc)
        )
        return _RETRY
    return 200, callback.ack_body, callback.ack_content_type

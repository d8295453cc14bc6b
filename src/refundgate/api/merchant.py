"""The merchant routes: ``/v1/refund_order`` and ``/v1/query_refund``.

Each handler decodes, validates, authenticates, then calls one use case and
renders its result. Every refusal before the use case changes nothing (G5).
"""

from __future__ import annotations

from refundgate.api.errors import code_for
from refundgate.domain.errors import AccessChanged, AccessDenied, RefundRefused
from refundgate.domain.merchant import Merchant
from refundgate.domain.model import Refund, RefundRequest, RefundStatus
from refundgate.ports import Access
from refundgate.protocol import (
    Answer,
    ErrorCode,
    Fields,
    ProtocolError,
    RefundOrderParams,
    business_answer,
    failure_answer,
    validate_query,
    validate_refund,
    verify,
)
from refundgate.protocol.signing import SignedValue
from refundgate.service import Deps, authorize, find_merchant, query_refund, request_refund

__all__ = ["query_refund_answer", "refund_order_answer"]


def refund_fields(refund: Refund) -> dict[str, SignedValue]:
    """The refund part of an answer (PROTOCOL.md, "Answers")."""
    fields: dict[str, SignedValue] = {
        "mchId": refund.mch_id,
        "mchRefundNo": refund.mch_refund_no,
        "payOrderId": refund.pay_order_id,
        "refundOrderId": refund.refund_order_id,
        "refundAmount": refund.amount,
        "currency": refund.currency,
        "channelId": refund.channel_id,
        "status": refund.status.wire_status,
        "channelOrderNo": refund.channel_refund_id,
    }
    if refund.status is RefundStatus.SUCCEEDED:
        fields["refundSuccTime"] = refund.succeeded_at
    return fields


def refund_answer(refund: Refund, key: str) -> Answer:
    """A refund's current state; a definitive channel refusal is ``CHANNEL_REJECTED``."""
    if refund.status is RefundStatus.FAILED:
        detail = f"{refund.err_code or 'FAILED'}: {refund.err_msg or 'refused by the channel'}"
        return business_answer(
            refund_fields(refund),
            key=key,
            refusal=ErrorCode.CHANNEL_REJECTED,
            refusal_detail=detail,
        )
    return business_answer(refund_fields(refund), key=key)


def _check_signature(merchant: Merchant, fields: Fields, received: str, now: int) -> None:
    if not verify(fields, received, merchant.verifying_keys(now)):
        raise ProtocolError(ErrorCode.SIGN_ERROR)


def _refused(error: RefundRefused, echo: dict[str, SignedValue], key: str) -> Answer:
    detail = f"{code_for(error).description}: {error}" if str(error) else None
    return business_answer(echo, key=key, refusal=code_for(error), refusal_detail=detail)


def _request_of(params: RefundOrderParams) -> RefundRequest:
    return RefundRequest(
        mch_id=params.mch_id,
        mch_refund_no=params.mch_refund_no,
        pay_order_id=params.pay_order_id,
        amount=params.refund_amount,
        login_name=params.login_name,
        client_ip=params.client_ip,
        currency=params.currency,
        channel_id=params.channel_id,
        device=params.device,
        notify_url=params.notify_url,
        extra=params.extra,
    )


async def refund_order_answer(deps: Deps, fields: Fields) -> Answer:
    """Answer a decoded ``/v1/refund_order`` request.

    The merchant and operator may come from the process's cache: the
    reservation goes ahead only while they still read so, and whatever the
    cached copy refuses (a signature, a disabled merchant, an operator) is
    decided again from the store before it is answered (service/access.py).
    """
    params = validate_refund(fields)
    cache = deps.access_cache
    if cache is not None and (cached := cache.get(params.mch_id, params.login_name)):
        try:
            return await _refund_under(deps, fields, params, cached)
        except (ProtocolError, AccessDenied, AccessChanged):
            cache.forget(params.mch_id, params.login_name)
    access = await find_merchant(deps, params.mch_id, params.login_name)
    if cache is not None:
        cache.put(params.mch_id, params.login_name, access)
    try:
        return await _refund_under(deps, fields, params, access)
    except AccessChanged:  # changed between our read and the reservation: nothing done
        return failure_answer(ErrorCode.SYSTEMERROR, "the merchant changed; send the request again")


async def _refund_under(
    deps: Deps, fields: Fields, params: RefundOrderParams, access: Access
) -> Answer:
    key = access.merchant.key.reveal()
    _check_signature(access.merchant, fields, params.sign, deps.clock.now_ms())
    authorize(access, params.login_name)
    try:
        refund = await request_refund(deps, _request_of(params), access)
    except RefundRefused as error:
        echo: dict[str, SignedValue] = {
            "mchId": params.mch_id,
            "mchRefundNo": params.mch_refund_no,
            "payOrderId": params.pay_order_id,
        }
        return _refused(error, echo, key)
    return refund_answer(refund, key)


async def query_refund_answer(deps: Deps, fields: Fields) -> Answer:
    """Answer a decoded ``/v1/query_refund`` request."""
    params = validate_query(fields)
    access = await find_merchant(deps, params.mch_id)
    merchant = access.merchant
    _check_signature(merchant, fields, params.sign, deps.clock.now_ms())
    authorize(access)
    refund = await query_refund(
        deps,
        params.mch_id,
        mch_refund_no=params.mch_refund_no,
        refund_order_id=params.refund_order_id,
    )
    key = merchant.key.reveal()
    if refund is None:
        echo: dict[str, SignedValue] = {
            "mchId": params.mch_id,
            "mchRefundNo": params.mch_refund_no,
            "refundOrderId": params.refund_order_id,
        }
        return business_answer(echo, key=key, refusal=ErrorCode.REFUND_NOT_EXIST)
    return refund_answer(refund, key)

"""Refund notifications (gateway → merchant): verify, then parse.

When a refund ends (status 2 succeeded, or 3 failed) the gateway POSTs its
fields, signed, to your ``notifyUrl`` (PROTOCOL.md, "Refund notification").
Answer ``success`` once you have recorded it; anything else is sent again for
about a day. In any web framework's handler::

    from refundgate.client import RefundGateError, parse_notification

    async def refund_notification(request):              # e.g. Starlette
        try:
            refund = parse_notification(await request.body(), request.headers, KEY)
        except RefundGateError:
            return PlainTextResponse("bad notification", status_code=400)
        record(refund)                                     # idempotently: it may come twice
        return PlainTextResponse("success")

A runnable example, with a body signed by key ``TESTKEY123``:

>>> body = (
...     "refundOrderId=R0000000001&mchId=10000576&mchRefundNo=R-1001&payOrderId=U001"
...     "&channelId=ALIPAY_QR&refundAmount=1999&currency=CAD&status=2&channelOrderNo=2026X1"
...     "&refundSuccTime=1767268800000&backType=2&sign=56FD4FC6F0DEBB28E3CF992753759763"
... )
>>> headers = {"Content-Type": "application/x-www-form-urlencoded"}
>>> refund = parse_notification(body, headers, "TESTKEY123")
>>> refund.mch_refund_no, refund.amount_cents, refund.status
('R-1001', 1999, <RefundStatus.SUCCEEDED: 2>)
>>> parse_notification(body.replace("1999", "9999"), headers, "TESTKEY123")
Traceback (most recent call last):
...
refundgate.client.errors.SignatureError: the notification's signature does not verify with the key
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from refundgate.client.errors import InvalidNotification, SignatureError
from refundgate.client.results import MalformedRefund, Refund
from refundgate.protocol import ProtocolError, decode_request, verify

__all__ = ["parse_notification"]

Headers = Mapping[str, str] | Mapping[bytes, bytes] | Iterable[tuple[str | bytes, str | bytes]]


def _text(value: str | bytes) -> str:
    return value.decode("latin-1") if isinstance(value, bytes) else value


def _content_type(headers: Headers | None) -> str | None:
    if headers is None:
        return None
    pairs = headers.items() if isinstance(headers, Mapping) else headers
    for name, value in pairs:
        if _text(name).lower() == "content-type":
            return _text(value)
    return None


def parse_notification(
    body: bytes | str, headers: Headers | None, key: str | Sequence[str]
) -> Refund:
    """The refund a notification describes, once its signature is verified.

    ``body`` is the request body as received (form fields; a ``params`` JSON
    wrapper or a JSON body are read too); ``headers`` are the request's headers
    (only ``Content-Type`` is read; any mapping or list of pairs, names in any
    case); ``key`` is your signing key, or several keys while you rotate them.

    Raises :class:`~refundgate.client.SignatureError` when the signature is
    missing or wrong (the body was altered, or it is not from the gateway),
    and :class:`~refundgate.client.InvalidNotification` when the body cannot
    be read or misses a refund's fields.
    """
    keys = [key] if isinstance(key, str) else list(key)
    if not keys or not all(isinstance(one, str) and one for one in keys):
        raise TypeError("key must be the signing key (a non-empty str) or a sequence of them")
    raw = body.encode("utf-8") if isinstance(body, str) else bytes(body)
    try:
        fields = decode_request(raw, _content_type(headers))
    except ProtocolError as exc:
        raise InvalidNotification(f"unreadable notification: {exc.message}") from None
    received = fields.get("sign")
    if not received:
        raise SignatureError("the notification is not signed")
    # Only the body's fields take part: the gateway never puts any in the URL,
    # and a framework's own query parameters must not break the check (§9, 19).
    if not verify(fields, received, keys):
        raise SignatureError("the notification's signature does not verify with the key")
    try:
        return Refund.from_fields(fields)
    except MalformedRefund as exc:
        raise InvalidNotification(f"not a refund notification: {exc}") from None

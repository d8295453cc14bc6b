"""parse_notification: verify, then read; anything altered or unsigned raises.

Notifications are built here exactly as PROTOCOL.md's "Refund notification"
describes (the gateway's notifier is not written yet): the listed fields,
``backType=2``, signed by the Signing rule, POSTed as form fields.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from urllib.parse import urlencode

import pytest

from refundgate.client import (
    InvalidNotification,
    Refund,
    RefundGateError,
    RefundStatus,
    SignatureError,
    parse_notification,
)
from tests.client.support import NOTIFICATION_FIELDS, form_body, notification
from tests.conftest import KEY

FORM = {"Content-Type": "application/x-www-form-urlencoded"}


def test_the_test_notifications_are_signed_as_the_protocol_says() -> None:
    fields = notification(KEY, channelOrderNo="")
    text = "&".join(
        f"{name}={fields[name]}" for name in sorted(NOTIFICATION_FIELDS) if fields[name] != ""
    )
    expected = hashlib.md5(f"{text}&key={KEY}".encode(), usedforsecurity=False).hexdigest()

    assert fields["sign"] == expected.upper()
    assert list(fields)[:-1] == list(NOTIFICATION_FIELDS)


def test_a_genuine_notification_is_read_into_a_refund() -> None:
    refund = parse_notification(form_body(notification(KEY)), FORM, KEY)

    assert refund == Refund(
        refund_order_id="R0000000001",
        mch_refund_no="R-1001",
        amount_cents=1999,
        status=RefundStatus.SUCCEEDED,
        raw_status="2",
        pay_order_id="ALI-1",
        currency="CAD",
        mch_id="10000576",
        channel_id="ALIPAY_QR",
        channel_order_no="2026010122001",
        succeeded_at=datetime(2026, 1, 1, 12, tzinfo=UTC),
    )


def test_a_failed_refund_is_notified_as_failed() -> None:
    fields = notification(KEY, status="3", refundSuccTime="", channelOrderNo="")

    refund = parse_notification(form_body(fields), FORM, KEY)

    assert (refund.status, refund.succeeded_at, refund.channel_order_no) == (
        RefundStatus.FAILED,
        None,
        None,
    )


@pytest.mark.parametrize(
    "headers",
    [
        pytest.param(FORM, id="dict"),
        pytest.param({"content-type": "application/x-www-form-urlencoded"}, id="lower-case"),
        pytest.param([(b"content-type", b"application/x-www-form-urlencoded")], id="asgi-raw"),
        pytest.param({}, id="none-sent"),
        pytest.param(None, id="no-headers"),
    ],
)
def test_any_shape_of_headers_will_do(headers: object) -> None:
    body = form_body(notification(KEY))

    assert parse_notification(body, headers, KEY).amount_cents == 1999  # type: ignore[arg-type]


def test_a_str_body_a_params_wrapper_and_a_json_body_are_read_too() -> None:
    fields = notification(KEY)

    as_text = parse_notification(form_body(fields).decode(), FORM, KEY)
    wrapped = parse_notification(urlencode({"params": json.dumps(fields)}), FORM, KEY)
    as_json = parse_notification(json.dumps(fields), {"content-type": "application/json"}, KEY)

    assert as_text == wrapped == as_json


@pytest.mark.parametrize(
    "tamper",
    [
        pytest.param(lambda f: {**f, "refundAmount": "199900"}, id="amount"),
        pytest.param(lambda f: {**f, "status": "2" if f["status"] == "3" else "3"}, id="status"),
        pytest.param(lambda f: {**f, "mchRefundNo": "R-9999"}, id="refund-no"),
        pytest.param(lambda f: {**f, "extra": "1"}, id="added-field"),
        pytest.param(lambda f: {k: v for k, v in f.items() if k != "channelOrderNo"}, id="removed"),
        pytest.param(lambda f: {**f, "sign": f["sign"][:-1] + "0"}, id="sign"),
        pytest.param(lambda f: {k: v for k, v in f.items() if k != "sign"}, id="unsigned"),
        pytest.param(lambda f: {**f, "sign": ""}, id="empty-sign"),
    ],
)
def test_a_tampered_notification_raises_a_signature_error(tamper: object) -> None:
    fields = tamper(notification(KEY))  # type: ignore[operator]

    with pytest.raises(SignatureError):
        parse_notification(form_body(fields), FORM, KEY)


def test_a_notification_signed_with_another_key_raises() -> None:
    with pytest.raises(SignatureError):
        parse_notification(form_body(notification("SOMEONE-ELSE")), FORM, KEY)


def test_during_a_key_rotation_either_key_verifies() -> None:
    body = form_body(notification("OLDKEY-1234"))

    refund = parse_notification(body, FORM, ["NEWKEY-5678", "OLDKEY-1234"])

    assert refund.mch_refund_no == "R-1001"


def test_the_lower_case_sign_of_a_genuine_notification_verifies() -> None:
    fields = notification(KEY)

    refund = parse_notification(form_body({**fields, "sign": fields["sign"].lower()}), FORM, KEY)

    assert refund.refund_order_id == "R0000000001"


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(b"", id="empty"),
        pytest.param(b"\xff\xfe", id="not-utf8"),
        pytest.param(b"{not json", id="bad-json"),
        pytest.param(b"a=1&a=2", id="duplicate"),
    ],
)
def test_an_unreadable_body_is_an_invalid_notification(body: bytes) -> None:
    with pytest.raises(InvalidNotification):
        parse_notification(body, FORM, KEY)


def test_signed_fields_that_are_no_refund_are_an_invalid_notification() -> None:
    fields = notification(KEY, refundOrderId="", refundAmount="12.50")

    with pytest.raises(InvalidNotification) as raised:
        parse_notification(form_body(fields), FORM, KEY)

    assert isinstance(raised.value, RefundGateError)
    assert isinstance(raised.value, ValueError)


def test_a_key_is_required() -> None:
    with pytest.raises(TypeError):
        parse_notification(form_body(notification(KEY)), FORM, "")
    with pytest.raises(TypeError):
        parse_notification(form_body(notification(KEY)), FORM, [])

"""Every row of the ``/v1/refund_order`` field table (PROTOCOL.md), through HTTP.

A field that is missing, longer than its column or of the wrong shape is a
``PARAM_ERROR`` whose retMsg names it, and the request changes nothing (G5).
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.api.support import (
    assert_accepted,
    assert_protocol_failure,
    assert_refused,
    nothing_changes,
    refund_row,
)
from tests.conftest import Gateway, params_body, refund_fields, signed_fields

REQUIRED = ["mchId", "mchRefundNo", "payOrderId", "refundAmount", "loginName", "clientIp"]

#: Each field's longest accepted length, from the table.
MAX_LENGTHS = {
    "mchId": 30,
    "mchRefundNo": 30,
    "payOrderId": 64,
    "refundAmount": 10,
    "loginName": 32,
    "clientIp": 32,
    "device": 64,
    "currency": 3,
    "channelId": 24,
    "notifyUrl": 200,
    "password": 64,
}


def too_long(name: str) -> str:
    length = MAX_LENGTHS[name] + 1
    if name == "notifyUrl":
        prefix = "https://merchant.example/"
        return prefix + "a" * (length - len(prefix))
    if name == "refundAmount":
        return "1" * length
    return "A" * length


@pytest.mark.parametrize("name", REQUIRED)
async def test_a_missing_required_field_is_a_param_error(gateway: Gateway, name: str) -> None:
    with nothing_changes(gateway):
        answer = await gateway.refund(**{name: None})

    assert_protocol_failure(answer, "PARAM_ERROR", names=name)


@pytest.mark.parametrize("name", REQUIRED)
@pytest.mark.parametrize("empty", ["", None], ids=["empty-string", "json-null"])
async def test_an_empty_required_field_is_missing(
    gateway: Gateway, name: str, empty: str | None
) -> None:
    fields: dict[str, Any] = {**refund_fields(), name: empty}

    with nothing_changes(gateway):
        response = await gateway.post("/v1/refund_order", params_body(signed_fields(fields)))

    assert_protocol_failure(response.json(), "PARAM_ERROR", names=name)


async def test_a_missing_sign_is_a_param_error(gateway: Gateway) -> None:
    with nothing_changes(gateway):
        response = await gateway.post("/v1/refund_order", params_body(refund_fields()))

    assert_protocol_failure(response.json(), "PARAM_ERROR", names="sign")


async def test_an_over_long_sign_is_a_param_error(gateway: Gateway) -> None:
    fields = {**refund_fields(), "sign": "A" * 33}

    with nothing_changes(gateway):
        response = await gateway.post("/v1/refund_order", params_body(fields))

    assert_protocol_failure(response.json(), "PARAM_ERROR", names="sign")


@pytest.mark.parametrize("name", sorted(MAX_LENGTHS))
async def test_an_over_long_field_is_a_param_error(gateway: Gateway, name: str) -> None:
    with nothing_changes(gateway):
        answer = await gateway.refund(**{name: too_long(name)})

    assert_protocol_failure(answer, "PARAM_ERROR", names=name)
    assert f"longer than {MAX_LENGTHS[name]}" in answer["retMsg"]


@pytest.mark.parametrize("name", [*sorted(MAX_LENGTHS), "sign"])
async def test_a_field_that_is_not_text_or_a_number_is_a_param_error(
    gateway: Gateway, name: str
) -> None:
    for value in [True, False, [], ["1"], {}, {"a": "1"}]:
        fields: dict[str, Any] = {**signed_fields(refund_fields()), name: value}

        with nothing_changes(gateway):
            response = await gateway.post("/v1/refund_order", params_body(fields))

        assert_protocol_failure(response.json(), "PARAM_ERROR", names=name)


MALFORMED = [
    ("mchId", "10000 576"),
    ("mchId", "1000057é"),
    ("mchRefundNo", "R 1"),
    ("mchRefundNo", "R-\t1"),
    ("mchRefundNo", "R-ü"),
    ("refundAmount", "0"),
    ("refundAmount", "-1"),
    ("refundAmount", "+1"),
    ("refundAmount", "1.5"),
    ("refundAmount", "100.00"),
    ("refundAmount", "1e3"),
    ("refundAmount", " 100"),
    ("refundAmount", "abc"),
    ("refundAmount", "2147483648"),
    ("refundAmount", "\uff11\uff10\uff10"),  # fullwidth digits
    ("clientIp", "999.1.1.1"),
    ("clientIp", "localhost"),
    ("clientIp", "24.80.45"),
    ("currency", "cad"),
    ("currency", "C4D"),
    ("notifyUrl", "ftp://merchant.example/refunds"),
    ("notifyUrl", "https://merchant.example/refunds?order=1"),
    ("notifyUrl", "https://merchant.example/refunds#done"),
    ("notifyUrl", "merchant.example/refunds"),
    ("notifyUrl", "https://"),
    ("notifyUrl", "https://merchant.example/re funds"),
]


@pytest.mark.parametrize(("name", "value"), MALFORMED)
async def test_a_malformed_field_is_a_param_error(gateway: Gateway, name: str, value: str) -> None:
    with nothing_changes(gateway):
        answer = await gateway.refund(**{name: value})

    assert_protocol_failure(answer, "PARAM_ERROR", names=name)


# -- the edges that are accepted -------------------------------------------------


async def test_every_field_at_its_longest_is_accepted(gateway: Gateway) -> None:
    answer = await gateway.refund(
        mchRefundNo="R" * 30,
        device="D" * 64,
        channelId="ALIPAY_QR",
        currency="CAD",
        notifyUrl="https://merchant.example/" + "n" * 175,
        password="P" * 64,
        clientIp="2001:db8:85a3:0:0:8a2e:370:7334",
    )

    assert_accepted(answer, status=2)
    stored = refund_row(gateway, answer["refundOrderId"])
    assert stored["mch_refund_no"] == "R" * 30
    assert stored["device"] == "D" * 64
    assert len(stored["notify_url"]) == 200


async def test_a_64_character_order_id_passes_validation(gateway: Gateway) -> None:
    answer = await gateway.refund(payOrderId="P" * 64)

    assert_refused(answer, "ORDER_NOT_EXIST", pay_order_id="P" * 64)


async def test_a_32_character_login_name_passes_validation(gateway: Gateway) -> None:
    answer = await gateway.refund(loginName="L" * 32)

    assert_protocol_failure(answer, "LOGIN_NAME_INVALID")


async def test_the_largest_amount_passes_validation(gateway: Gateway) -> None:
    answer = await gateway.refund(refundAmount=str(2**31 - 1))

    assert_refused(answer, "REFUND_AMOUNT_EXCEEDED")


async def test_one_cent_is_accepted(gateway: Gateway) -> None:
    answer = await gateway.refund(refundAmount="1")

    assert_accepted(answer, status=2)
    assert answer["refundAmount"] == 1


async def test_the_password_is_signed_but_never_stored(gateway: Gateway) -> None:
    answer = await gateway.refund(password="hunter2-secret")

    assert_accepted(answer, status=2)
    assert "hunter2-secret" not in repr(gateway.snapshot())


async def test_an_unknown_field_is_signed_and_recorded(gateway: Gateway) -> None:
    answer = await gateway.refund(memo="birthday gift")

    assert_accepted(answer, status=2)
    assert "birthday gift" in refund_row(gateway, answer["refundOrderId"])["request_extra"]

"""The field tables of ``/v1/refund_order`` and ``/v1/query_refund`` (PROTOCOL.md)."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from refundgate.protocol import (
    ErrorCode,
    Fields,
    ProtocolError,
    RefundOrderParams,
    validate_query,
    validate_refund,
)

#: Vector V3 of PROTOCOL.md, with its sign: a valid refund request.
REFUND: Fields = {
    "mchId": "10000576",
    "mchRefundNo": "R20240101000001",
    "payOrderId": "U00180918065500913991007022",
    "refundAmount": "1999",
    "loginName": "vincent",
    "clientIp": "127.0.0.1",
    "currency": "CAD",
    "sign": "D48B3F7E5F6645B550087820E4C6EA9A",
}
QUERY: Fields = {
    "mchId": "10000576",
    "mchRefundNo": "R20240101000001",
    "sign": "92A1FD847C184A20FADA5D92C5059D9E",
}


@dataclass(frozen=True)
class Row:
    """One row of the refund_order table: the longest value it accepts."""

    name: str
    required: bool
    longest: str
    one_too_long: str


#: PROTOCOL.md, "POST /v1/refund_order", row by row.
ROWS = [
    Row("mchId", True, "M" * 30, "M" * 31),
    Row("mchRefundNo", True, "R" * 30, "R" * 31),
    Row("payOrderId", True, "P" * 64, "P" * 65),
    Row("refundAmount", True, "2147483647", "10000000000"),
    Row("loginName", True, "l" * 32, "l" * 33),
    Row("clientIp", True, "1111:2222:3333:4444:5555:6666::7", "1111:2222:3333:4444:5555:6666::71"),
    Row("device", False, "d" * 64, "d" * 65),
    Row("currency", False, "CAD", "CADX"),
    Row("channelId", False, "c" * 24, "c" * 25),
    Row(
        "notifyUrl", False, "https://shop.example/" + "n" * 179, "https://shop.example/" + "n" * 180
    ),
    Row("password", False, "p" * 64, "p" * 65),
    Row("sign", True, "S" * 32, "S" * 33),
]
REQUIRED = [row for row in ROWS if row.required]


def refund(**changes: str | None) -> Fields:
    """The valid request with some fields changed (None: JSON null)."""
    return {**REFUND, **changes}


def without(fields: Fields, name: str) -> Fields:
    return {other: value for other, value in fields.items() if other != name}


def refund_refusal(fields: Fields) -> ProtocolError:
    with pytest.raises(ProtocolError) as caught:
        validate_refund(fields)
    return caught.value


def query_refusal(fields: Fields) -> ProtocolError:
    with pytest.raises(ProtocolError) as caught:
        validate_query(fields)
    return caught.value


# The table, row by row


def test_a_valid_request_is_typed() -> None:
    params = validate_refund(REFUND)

    assert params == RefundOrderParams(
        mch_id="10000576",
        mch_refund_no="R20240101000001",
        pay_order_id="U00180918065500913991007022",
        refund_amount=1999,
        login_name="vincent",
        client_ip="127.0.0.1",
        sign="D48B3F7E5F6645B550087820E4C6EA9A",
        currency="CAD",
    )


@pytest.mark.parametrize("row", REQUIRED, ids=[row.name for row in REQUIRED])
def test_a_missing_required_field_is_refused_by_name(row: Row) -> None:
    error = refund_refusal(without(REFUND, row.name))

    assert error.code is ErrorCode.PARAM_ERROR
    assert row.name in error.message


@pytest.mark.parametrize("empty", ["", None], ids=["empty string", "null"])
@pytest.mark.parametrize("row", REQUIRED, ids=[row.name for row in REQUIRED])
def test_an_empty_required_field_counts_as_missing(row: Row, empty: str | None) -> None:
    error = refund_refusal(refund(**{row.name: empty}))

    assert error.code is ErrorCode.PARAM_ERROR
    assert row.name in error.message


@pytest.mark.parametrize("row", ROWS, ids=[row.name for row in ROWS])
def test_a_value_one_over_the_limit_is_refused_by_name(row: Row) -> None:
    error = refund_refusal(refund(**{row.name: row.one_too_long}))

    assert error.code is ErrorCode.PARAM_ERROR
    assert row.name in error.message


@pytest.mark.parametrize("row", ROWS, ids=[row.name for row in ROWS])
def test_a_value_exactly_at_the_limit_is_accepted(row: Row) -> None:
    validate_refund(refund(**{row.name: row.longest}))


def test_optional_fields_may_be_left_out() -> None:
    params = validate_refund(without(REFUND, "currency"))

    assert (params.device, params.currency, params.channel_id, params.notify_url) == (
        None,
        None,
        None,
        None,
    )


def test_an_empty_optional_field_counts_as_absent() -> None:
    params = validate_refund(refund(currency="", device=None))

    assert (params.currency, params.device) == (None, None)


# Rules


@pytest.mark.parametrize("value", ["R-1_2.3/4:5", "1537224899791", "!~"])
def test_mch_refund_no_may_be_any_printable_ascii(value: str) -> None:
    assert validate_refund(refund(mchRefundNo=value)).mch_refund_no == value


@pytest.mark.parametrize("value", ["R 1", "R\t1", "Rü1", "R\x7f1", "R\x001"])
def test_mch_refund_no_refuses_spaces_and_other_characters(value: str) -> None:
    error = refund_refusal(refund(mchRefundNo=value))

    assert "mchRefundNo" in error.message


@pytest.mark.parametrize(("value", "cents"), [("1", 1), ("2147483647", 2**31 - 1)])
def test_refund_amount_is_whole_cents_from_1_to_2_31_minus_1(value: str, cents: int) -> None:
    assert validate_refund(refund(refundAmount=value)).refund_amount == cents


@pytest.mark.parametrize(
    "value",
    ["0", "-1", "+1", "1.5", "1.0", "1e3", " 1", "1 ", "0x1", "2147483648", "\u0663", "\uff11"],
)
def test_refund_amount_refuses_anything_but_digits_in_range(value: str) -> None:
    error = refund_refusal(refund(refundAmount=value))

    assert error.code is ErrorCode.PARAM_ERROR
    assert "refundAmount" in error.message


@pytest.mark.parametrize("value", ["127.0.0.1", "24.80.45.254", "::1", "2001:db8::1"])
def test_client_ip_accepts_ipv4_and_ipv6(value: str) -> None:
    assert validate_refund(refund(clientIp=value)).client_ip == value


@pytest.mark.parametrize("value", ["not-an-ip", "256.1.1.1", "1.2.3", "1.2.3.4.5", "::g"])
def test_client_ip_refuses_anything_else(value: str) -> None:
    error = refund_refusal(refund(clientIp=value))

    assert "clientIp" in error.message


@pytest.mark.parametrize("value", ["cad", "Cad", "CA", "C1D", "ÇAD"])
def test_currency_is_three_upper_case_letters(value: str) -> None:
    error = refund_refusal(refund(currency=value))

    assert "currency" in error.message


@pytest.mark.parametrize(
    "value",
    ["https://shop.example/refund/notify", "http://shop.example:8080/n", "https://10.0.0.1/n"],
)
def test_notify_url_accepts_http_and_https(value: str) -> None:
    assert validate_refund(refund(notifyUrl=value)).notify_url == value


@pytest.mark.parametrize(
    "value",
    [
        "https://shop.example/n?order=1",
        "https://shop.example/n#done",
        "ftp://shop.example/n",
        "shop.example/n",
        "https://",
        "https:///n",
        "https://shop example/n",
        "https://shop.example/n\nx",
        "https://shop.example/\tn",
        "https://shop.example:99999/n",
        "https://shop.example:port/n",
        "https://[::1/n",
        "https://shöp.example/n",
    ],
)
def test_notify_url_refuses_anything_else(value: str) -> None:
    error = refund_refusal(refund(notifyUrl=value))

    assert "notifyUrl" in error.message


def test_a_password_is_accepted_and_then_forgotten() -> None:
    params = validate_refund(refund(password="legacy-secret"))

    assert "password" not in params.extra
    assert "legacy-secret" not in repr(params)


def test_unknown_fields_are_kept_in_extra() -> None:
    params = validate_refund(refund(foo="bar", storeNo="S-9"))

    assert dict(params.extra) == {"foo": "bar", "storeNo": "S-9"}


def test_extra_holds_no_known_field() -> None:
    params = validate_refund(refund(device="pos-1", foo="bar"))

    assert dict(params.extra) == {"foo": "bar"}


def test_extra_cannot_be_changed() -> None:
    params = validate_refund(refund(foo="bar"))

    with pytest.raises(TypeError):
        params.extra["foo"] = "baz"  # type: ignore[index]


# Query


def test_a_query_may_name_the_refund_by_mch_refund_no() -> None:
    params = validate_query(QUERY)

    assert (params.mch_refund_no, params.refund_order_id) == ("R20240101000001", None)


def test_a_query_may_name_the_refund_by_refund_order_id() -> None:
    fields = {**without(QUERY, "mchRefundNo"), "refundOrderId": "R0020240101120000000001"}

    params = validate_query(fields)

    assert (params.mch_refund_no, params.refund_order_id) == (None, "R0020240101120000000001")


def test_a_query_needs_one_of_the_two_refund_ids() -> None:
    error = query_refusal(without(QUERY, "mchRefundNo"))

    assert error.code is ErrorCode.PARAM_ERROR
    assert "mchRefundNo" in error.message
    assert "refundOrderId" in error.message


@pytest.mark.parametrize("name", ["mchId", "sign"])
def test_a_query_needs_the_merchant_and_the_sign(name: str) -> None:
    error = query_refusal(without(QUERY, name))

    assert name in error.message


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("mchId", "M" * 31),
        ("mchRefundNo", "R" * 31),
        ("refundOrderId", "R" * 65),
        ("sign", "S" * 33),
    ],
)
def test_a_query_field_over_its_limit_is_refused_by_name(name: str, value: str) -> None:
    error = query_refusal({**QUERY, name: value})

    assert error.code is ErrorCode.PARAM_ERROR
    assert name in error.message


def test_a_query_mch_refund_no_follows_the_refund_rule() -> None:
    error = query_refusal({**QUERY, "mchRefundNo": "R 1"})

    assert "mchRefundNo" in error.message

"""ACP fields, the k=v reply format and the respCode tables (channels.md §D.2–§D.5)."""

from __future__ import annotations

import pytest

from refundgate.channels.unionpay import wire
from refundgate.channels.unionpay.wire import CodeClass, OrigResult

# One row per code of §D.3, with the class it must get for a refund request.
CODE_TABLE = [
    ("00", CodeClass.ACCEPTED),
    ("A6", CodeClass.ACCEPTED),
    ("03", CodeClass.UNKNOWN),
    ("04", CodeClass.UNKNOWN),
    ("05", CodeClass.UNKNOWN),
    ("12", CodeClass.UNKNOWN),
    ("34", CodeClass.UNKNOWN),
    ("02", CodeClass.RETRY_LATER),
    ("37", CodeClass.RETRY_LATER),
    *[(f"{code:02d}", CodeClass.FAILED) for code in (1, 10, 11, 13, 14, 30, 31, 32, 33)],
    *[(str(code), CodeClass.FAILED) for code in (35, 36, 38, 39, 40, 41)],
    *[(str(code), CodeClass.FAILED) for code in range(60, 80)],
]


@pytest.mark.parametrize(("code", "expected"), CODE_TABLE)
def test_every_documented_code_has_its_class(code: str, expected: CodeClass):
    assert wire.classify(code) is expected


def test_the_table_holds_exactly_the_documented_codes():
    assert dict(CODE_TABLE) == dict(wire.RESP_CODES)


@pytest.mark.parametrize("code", ["", "06", "99", "98", "42", "59", "80", "0", "000", "a6", "XX"])
def test_a_code_outside_the_table_is_unknown(code: str):
    assert wire.classify(code) is CodeClass.UNKNOWN


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        ("00", OrigResult.SUCCEEDED),
        ("A6", OrigResult.SUCCEEDED),
        ("03", OrigResult.PROCESSING),
        ("04", OrigResult.PROCESSING),
        ("05", OrigResult.PROCESSING),
        ("01", OrigResult.FAILED),
        ("02", OrigResult.FAILED),
        ("36", OrigResult.FAILED),
        ("61", OrigResult.FAILED),
        ("12", OrigResult.UNKNOWN),
        ("34", OrigResult.UNKNOWN),
        ("37", OrigResult.UNKNOWN),
        ("99", OrigResult.UNKNOWN),
        ("", OrigResult.UNKNOWN),
    ],
)
def test_orig_resp_code_says_what_became_of_the_refund(code: str, expected: OrigResult):
    assert wire.classify_orig(code) is expected


def test_a_reply_is_read_with_raw_values():
    assert wire.parse_reply("a=1&b=x y+z%20&c=") == {"a": "1", "b": "x y+z%20", "c": ""}


def test_values_keep_their_equals_signs():
    assert wire.parse_reply("signature=AbC==&n=1") == {"signature": "AbC==", "n": "1"}


def test_bracketed_values_are_opaque_even_when_nested():
    text = "reserved={a=1&b={c=2&d=[3&4]}}&list=[x&y]&z=9"
    assert wire.parse_reply(text) == {
        "reserved": "{a=1&b={c=2&d=[3&4]}}",
        "list": "[x&y]",
        "z": "9",
    }


def test_a_pem_with_line_breaks_is_one_value():
    pem = "-----BEGIN CERTIFICATE-----\nMIIB+/=\n-----END CERTIFICATE-----\n"
    assert wire.parse_reply(f"signPubKeyCert={pem}&respCode=00")["signPubKeyCert"] == pem


@pytest.mark.parametrize(
    "text",
    ["", "abc", "a=1&&b=2", "=1", "a=1&a=2", "a={1&b=2", "a=[1}&b=2", "a=1&", "{a}=1"],
)
def test_a_malformed_reply_is_unreadable(text: str):
    with pytest.raises(wire.ReplyUnreadable):
        wire.parse_reply(text)


def test_a_form_round_trips_through_url_encoding():
    fields = {"backUrl": "https://m.example/n?a=1&b=2", "note": "退款 +/="}
    assert wire.parse_form(wire.encode_form(fields)) == fields


@pytest.mark.parametrize("body", [b"a=1&a=2", b"\xff=1", b"novalue", b"a=%ZZ&&"])
def test_a_malformed_form_is_unreadable(body: bytes):
    with pytest.raises(wire.ReplyUnreadable):
        wire.parse_form(body)


def test_txn_time_is_beijing_time():
    assert wire.txn_time(1_767_268_800_000) == "20260101200000"  # 12:00Z is 20:00 UTC+8
    assert wire.txn_time(1_767_268_800_999) == "20260101200000"


def test_attempt_one_is_the_refund_id_and_later_ones_are_suffixed():
    assert wire.attempt_order_id("R20260101120000ABCDEF123456", 1) == "R20260101120000ABCDEF123456"
    assert wire.attempt_order_id("R0000000001", 2) == "R0000000001R02"
    assert wire.attempt_order_id("R0000000001", 99) == "R0000000001R99"


@pytest.mark.parametrize(
    ("refund_id", "number"),
    [("R1", 1), ("R000000-01", 1), ("R" * 39, 2), ("R0000000001", 0), ("R0000000001", 100)],
)
def test_an_order_id_outside_the_rules_is_refused(refund_id: str, number: int):
    with pytest.raises(ValueError, match=r"orderId|attempt"):
        wire.attempt_order_id(refund_id, number)


@pytest.mark.parametrize(
    ("order_id", "expected"),
    [
        ("R0000000001", 1),
        ("R0000000001R02", 2),
        ("R0000000001R99", 99),
        ("R0000000001R01", None),
        ("R0000000001R2", None),
        ("R0000000001X02", None),
        ("R0000000002", None),
        ("R000000000", None),
    ],
)
def test_attempt_number_reads_an_order_id_back(order_id: str, expected: int | None):
    assert wire.attempt_number(order_id, "R0000000001") == expected


def test_refund_fields_carry_fen_and_the_currency_number():
    merchant = wire.MerchantProfile("777290058110048", "69629715588")
    attempt = wire.Attempt("R0000000001", "20260101200000")
    fields = wire.refund_fields(
        merchant, attempt, orig_qry_id="Q1", amount=1999, currency="CNY",
        back_url="https://gw.example/cb/unionpay", req_reserved="R0000000001",
    )  # fmt: skip
    assert fields["txnAmt"] == "1999"
    assert fields["currencyCode"] == "156"
    assert (fields["txnType"], fields["txnSubType"], fields["version"]) == ("04", "00", "5.1.0")
    assert "signature" not in fields


@pytest.mark.parametrize(("amount", "currency"), [(0, "CNY"), (-5, "CNY"), (100, "XYZ")])
def test_refund_fields_refuse_a_bad_amount_or_currency(amount: int, currency: str):
    merchant = wire.MerchantProfile("777290058110048", "1")
    with pytest.raises(ValueError, match=r"amount|currencyCode"):
        wire.refund_fields(
            merchant, wire.Attempt("R0000000001", "20260101200000"), orig_qry_id="Q1",
            amount=amount, currency=currency, back_url="https://x", req_reserved="R0000000001",
        )  # fmt: skip


def test_query_names_the_attempt():
    merchant = wire.MerchantProfile("777290058110048", "1")
    fields = wire.query_fields(merchant, wire.Attempt("R0000000001", "20260101200000"))
    assert (fields["txnType"], fields["bizType"]) == ("00", "000000")
    assert (fields["orderId"], fields["txnTime"]) == ("R0000000001", "20260101200000")

"""Signing rules of PROTOCOL.md ("Signing") and iotpay-v1-research.md §2.

Expected strings are written out by hand and hashed here, so that each test
states the canonical string the rule produces.
"""

from __future__ import annotations

import hashlib

import pytest

from refundgate.protocol import sign, verify
from refundgate.protocol.signing import SignedValue

KEY = "TESTKEY123"

#: PROTOCOL.md "Signing" and iotpay-v1-research.md §2.8, key TESTKEY123.
VECTORS: dict[str, tuple[dict[str, SignedValue], str]] = {
    "V1": (
        {"c": "cat", "a": "apple", "b": "boat", "d": ""},
        "D47C758B64EC1A436DAB574FFB86BDE1",
    ),
    "V2": (
        {
            "channelId": "WX_MICROPAY",
            "clientIp": "24.80.45.254",
            "device": "",
            "loginName": "vincent",
            "mchId": "10000576",
            "mchRefundNo": "1537224899791",
            "payOrderId": "U00180918065500913991007022",
            "refundAmount": "1",
        },
        "4033AF839E77532E84E2514E72A2867C",
    ),
    "V3": (
        {
            "mchId": "10000576",
            "mchRefundNo": "R20240101000001",
            "loginName": "vincent",
            "currency": "CAD",
            "refundAmount": 1999,
            "clientIp": "127.0.0.1",
            "payOrderId": "U00180918065500913991007022",
        },
        "D48B3F7E5F6645B550087820E4C6EA9A",
    ),
    "V4": (
        {"mchId": "10000576", "mchRefundNo": "R20240101000001"},
        "92A1FD847C184A20FADA5D92C5059D9E",
    ),
    "V5": (
        {"mchId": "10000576", "payOrderId": "U00180918065500913991007022"},
        "BDFD06FDA397F989F091B1415F5E4ACB",
    ),
    "V6": (
        {
            "retCode": "SUCCESS",
            "retMsg": "",
            "resCode": "SUCCESS",
            "refundOrderId": "R0020240101120000000001",
        },
        "7E35440D5AF550BA6573343AD00BBFE5",
    ),
}

#: Keys whose PHP natural-case order differs from byte order (research §2.3):
#: fields, the byte-order string, the PHP-order string, each without ``&key=``.
DIVERGENCES = {
    "refundAmount/refundable": (
        {"refundAmount": "1", "refundable": "0"},
        "refundAmount=1&refundable=0",
        "refundable=0&refundAmount=1",
    ),
    "payOrderId/payerName": (
        {"payOrderId": "U1", "payerName": "Ann"},
        "payOrderId=U1&payerName=Ann",
        "payerName=Ann&payOrderId=U1",
    ),
    "Zeta/alpha": (
        {"alpha": "a", "Zeta": "z"},
        "Zeta=z&alpha=a",
        "alpha=a&Zeta=z",
    ),
    "param2/param10": (
        {"param2": "two", "param10": "ten"},
        "param10=ten&param2=two",
        "param2=two&param10=ten",
    ),
}


def md5_sign(text: str) -> str:
    """Upper-case hex MD5 of the UTF-8 bytes of a canonical string."""
    return hashlib.md5(text.encode("utf-8")).hexdigest().upper()


# Vectors


@pytest.mark.parametrize(("fields", "expected"), VECTORS.values(), ids=VECTORS.keys())
def test_a_published_vector_signs_as_published(
    fields: dict[str, SignedValue], expected: str
) -> None:
    assert sign(fields, KEY) == expected


@pytest.mark.parametrize(("fields", "expected"), VECTORS.values(), ids=VECTORS.keys())
def test_a_published_vector_verifies(fields: dict[str, SignedValue], expected: str) -> None:
    assert verify(fields, expected, [KEY])


def test_the_canonical_string_is_sorted_pairs_then_the_key() -> None:
    fields = {"c": "cat", "a": "apple", "b": "boat"}

    assert sign(fields, KEY) == md5_sign("a=apple&b=boat&c=cat&key=TESTKEY123")


# What takes part


def test_an_empty_string_takes_no_part() -> None:
    assert sign({"a": "apple", "d": ""}, KEY) == md5_sign("a=apple&key=TESTKEY123")


def test_a_null_takes_no_part() -> None:
    assert sign({"a": "apple", "d": None}, KEY) == md5_sign("a=apple&key=TESTKEY123")


@pytest.mark.parametrize(
    ("value", "text"),
    [(0, "0"), ("0", "0"), (" ", " ")],
    ids=["number zero", "string zero", "a space"],
)
def test_a_value_that_only_looks_empty_takes_part(value: SignedValue, text: str) -> None:
    expected = md5_sign(f"a=apple&d={text}&key=TESTKEY123")

    assert sign({"a": "apple", "d": value}, KEY) == expected


def test_a_number_signs_as_its_digits() -> None:
    as_text: dict[str, SignedValue] = {"mchId": "10000576", "refundAmount": "1"}
    as_number: dict[str, SignedValue] = {"mchId": "10000576", "refundAmount": 1}

    assert sign(as_number, KEY) == sign(as_text, KEY)


def test_the_sign_field_takes_no_part() -> None:
    fields, expected = VECTORS["V4"]

    assert sign({**fields, "sign": "0123456789ABCDEF0123456789ABCDEF"}, KEY) == expected


def test_an_unknown_field_takes_part() -> None:
    fields = {"mchId": "10000576", "mchRefundNo": "R20240101000001", "foo": "bar"}
    expected = md5_sign("foo=bar&mchId=10000576&mchRefundNo=R20240101000001&key=TESTKEY123")

    assert sign(fields, KEY) == expected


def test_values_are_joined_verbatim_without_url_encoding() -> None:
    fields = {"notifyUrl": "https://shop.example/n", "device": "caisse 1 & 2 = ok"}
    expected = md5_sign("device=caisse 1 & 2 = ok&notifyUrl=https://shop.example/n&key=TESTKEY123")

    assert sign(fields, KEY) == expected


def test_non_ascii_text_is_hashed_as_utf8() -> None:
    fields = {"device": "caisse-é-收银"}

    assert sign(fields, KEY) == md5_sign("device=caisse-é-收银&key=TESTKEY123")


# Order


def test_names_sort_in_byte_order_so_upper_case_comes_first() -> None:
    fields = {"alpha": "a", "Zeta": "z"}

    assert sign(fields, KEY) == md5_sign("Zeta=z&alpha=a&key=TESTKEY123")


@pytest.mark.parametrize(
    ("fields", "byte_order", "php_order"), DIVERGENCES.values(), ids=DIVERGENCES.keys()
)
def test_sign_uses_byte_order_where_php_would_not(
    fields: dict[str, SignedValue], byte_order: str, php_order: str
) -> None:
    assert sign(fields, KEY) == md5_sign(f"{byte_order}&key={KEY}")


@pytest.mark.parametrize(
    ("fields", "byte_order", "php_order"), DIVERGENCES.values(), ids=DIVERGENCES.keys()
)
def test_verify_accepts_the_php_natural_case_order(
    fields: dict[str, SignedValue], byte_order: str, php_order: str
) -> None:
    php_sign = md5_sign(f"{php_order}&key={KEY}")

    assert verify(fields, php_sign, [KEY])


@pytest.mark.parametrize(
    ("fields", "php_order"),
    [
        pytest.param(
            {"Zeta": "z", "a1": "1", "a05": "5"},
            "a05=5&a1=1&Zeta=z",
            id="a run led by zero compares digit by digit",
        ),
        pytest.param(
            {"Zeta": "z", "a c": "1", "ab": "2"},
            "ab=2&a c=1&Zeta=z",
            id="spaces inside a name are skipped",
        ),
        pytest.param(
            {"ß": "s", "Zeta": "z", "alpha": "a"},
            "alpha=a&Zeta=z&ß=s",
            id="non-ASCII compares by its bytes, unfolded",
        ),
        pytest.param(
            {"mchid": "1", "mchId": "2", "Zeta": "z"},
            "mchid=1&mchId=2&Zeta=z",
            id="names equal but for case keep their arrival order",
        ),
        pytest.param(
            {"Zeta": "z", "a" + "1" * 5000: "1"},
            f"a{'1' * 5000}=1&Zeta=z",
            id="a digit run of thousands of digits",
        ),
    ],
)
def test_verify_accepts_php_order_for_unusual_names(
    fields: dict[str, SignedValue], php_order: str
) -> None:
    php_sign = md5_sign(f"{php_order}&key={KEY}")

    assert verify(fields, php_sign, [KEY])


# Verification


def test_verify_accepts_a_lower_case_sign() -> None:
    fields, expected = VECTORS["V1"]

    assert verify(fields, expected.lower(), [KEY])


def test_verify_accepts_the_previous_key_during_a_rotation() -> None:
    fields, _ = VECTORS["V3"]
    signed_with_old_key = sign(fields, "OLDKEY")

    assert verify(fields, signed_with_old_key, ["NEWKEY", "OLDKEY"])


def test_verify_refuses_a_key_that_is_no_longer_listed() -> None:
    fields, _ = VECTORS["V3"]
    signed_with_old_key = sign(fields, "OLDKEY")

    assert not verify(fields, signed_with_old_key, ["NEWKEY"])


def test_verify_refuses_the_wrong_key() -> None:
    fields, expected = VECTORS["V3"]

    assert not verify(fields, expected, ["TESTKEY124"])


def test_verify_refuses_without_any_key() -> None:
    fields, expected = VECTORS["V3"]

    assert not verify(fields, expected, [])


def test_verify_refuses_a_tampered_value() -> None:
    fields, expected = VECTORS["V3"]
    tampered = {**fields, "refundAmount": 1998}

    assert not verify(tampered, expected, [KEY])


def test_verify_refuses_a_missing_field() -> None:
    fields, expected = VECTORS["V3"]
    shorter = {name: value for name, value in fields.items() if name != "currency"}

    assert not verify(shorter, expected, [KEY])


def test_verify_refuses_an_added_field() -> None:
    fields, expected = VECTORS["V4"]

    assert not verify({**fields, "foo": "bar"}, expected, [KEY])


def test_verify_refuses_a_value_emptied_to_drop_it() -> None:
    fields, expected = VECTORS["V3"]

    assert not verify({**fields, "currency": ""}, expected, [KEY])


def test_verify_folds_ascii_case_only() -> None:
    fields = {"n": "288"}
    upper = sign(fields, KEY)
    assert upper.startswith("FF")
    look_alike = "\ufb00" + upper[2:]  # the ligature "ﬀ" upper-cases to "FF"

    assert not verify(fields, look_alike, [KEY])


@pytest.mark.parametrize(
    "received",
    ["", "D47C758B", "not a sign at all", "\ud800" * 32],
    ids=["empty", "truncated", "text", "lone surrogates"],
)
def test_verify_refuses_a_malformed_sign(received: str) -> None:
    fields, _ = VECTORS["V1"]

    assert not verify(fields, received, [KEY])

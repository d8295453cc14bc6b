"""Amounts: exact minor units from Decimal or str, or refused; never a float.

The PHP sample's ``intval($amount * 100)`` loses a cent on 573 of the 10,000
amounts from 0.01 to 100.00 (iotpay-v1-research.md §9); here none is lost.
"""

from __future__ import annotations

import math
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from refundgate.client import AmountTypeError, InvalidAmount, InvalidRequest, from_cents, to_cents
from refundgate.client.amounts import MAX_AMOUNT, amount_in_cents


@pytest.mark.parametrize(
    ("amount", "cents"),
    [
        pytest.param(Decimal("0.29"), 29, id="0.29"),
        pytest.param(Decimal("19.99"), 1999, id="19.99"),
        pytest.param("0.29", 29, id="str-0.29"),
        pytest.param("19.99", 1999, id="str-19.99"),
        pytest.param("1.15", 115, id="1.15"),
        pytest.param("0.01", 1, id="one-cent"),
        pytest.param("100", 10_000, id="whole"),
        pytest.param("19.9", 1990, id="one-decimal"),
        pytest.param("19.990", 1999, id="trailing-zero"),
        pytest.param(Decimal("1E+1"), 1000, id="exponent-form"),
        pytest.param("21474836.47", MAX_AMOUNT, id="largest"),
    ],
)
def test_major_units_become_exact_cents(amount: Decimal | str, cents: int) -> None:
    assert to_cents(amount) == cents
    assert to_cents(amount, "CAD") == cents


def test_not_one_amount_from_one_cent_to_a_hundred_loses_a_cent() -> None:
    texts = [f"{n // 100}.{n % 100:02d}" for n in range(1, 10_001)]

    assert [to_cents(text) for text in texts] == list(range(1, 10_001))
    assert [to_cents(Decimal(text)) for text in texts] == list(range(1, 10_001))
    # What the PHP sample does with the same amounts:
    assert sum(int(float(text) * 100) != n for n, text in enumerate(texts, 1)) == 573


@pytest.mark.parametrize(
    "amount",
    [
        pytest.param("0.001", id="0.001"),
        pytest.param(Decimal("0.001"), id="decimal-0.001"),
        pytest.param("19.999", id="19.999"),
        pytest.param(Decimal("1.000000000000000000000000000001"), id="beyond-context-precision"),
        pytest.param("0", id="zero"),
        pytest.param("0.00", id="zero-cents"),
        pytest.param(Decimal("-0"), id="negative-zero"),
        pytest.param(Decimal("-1.00"), id="negative"),
        pytest.param(Decimal("NaN"), id="nan"),
        pytest.param(Decimal("sNaN"), id="snan"),
        pytest.param(Decimal("Infinity"), id="infinity"),
        pytest.param(Decimal("1E+999999"), id="huge-exponent"),
        pytest.param("21474836.48", id="one-cent-too-many"),
        pytest.param("-1", id="minus-sign"),
        pytest.param("+1", id="plus-sign"),
        pytest.param(" 1", id="space"),
        pytest.param("1e3", id="str-exponent"),
        pytest.param("1_000", id="underscore"),
        pytest.param("19,99", id="comma"),
        pytest.param(".5", id="no-integer-part"),
        pytest.param("5.", id="trailing-point"),
        pytest.param("NaN", id="str-nan"),
        pytest.param("١٢", id="arabic-indic-digits"),
        pytest.param("", id="empty"),
    ],
)
def test_amounts_that_need_rounding_or_are_not_plain_positive_numbers_are_refused(
    amount: Decimal | str,
) -> None:
    with pytest.raises(InvalidAmount) as raised:
        to_cents(amount)

    assert isinstance(raised.value, InvalidRequest)
    assert isinstance(raised.value, ValueError)


@pytest.mark.parametrize(
    "amount",
    [
        pytest.param(19.99, id="float"),
        pytest.param(0.29, id="float-0.29"),
        pytest.param(math.inf, id="float-inf"),
        pytest.param(20, id="int"),
        pytest.param(True, id="bool"),
        pytest.param(b"19.99", id="bytes"),
        pytest.param(None, id="none"),
    ],
)
def test_types_that_cannot_carry_money_exactly_are_refused(amount: object) -> None:
    with pytest.raises(AmountTypeError) as raised:
        to_cents(amount)  # type: ignore[arg-type]

    assert isinstance(raised.value, InvalidRequest)
    assert isinstance(raised.value, TypeError)


@pytest.mark.parametrize(
    ("amount", "currency", "cents"),
    [
        pytest.param("1000", "JPY", 1000, id="yen-have-no-decimals"),
        pytest.param("1.234", "KWD", 1234, id="dinar-has-three"),
        pytest.param("19.99", "USD", 1999, id="usd"),
        pytest.param("19.99", "CNY", 1999, id="cny"),
    ],
)
def test_the_currency_decides_the_decimals(amount: str, currency: str, cents: int) -> None:
    assert to_cents(amount, currency) == cents
    assert from_cents(cents, currency) == Decimal(amount)


def test_more_decimals_than_the_currency_has_are_refused() -> None:
    with pytest.raises(InvalidAmount, match="more than 0 decimals"):
        to_cents("0.5", "JPY")
    with pytest.raises(InvalidAmount, match="more than 3 decimals"):
        to_cents("1.2345", "KWD")


@pytest.mark.parametrize("currency", ["cad", "CA", "CADX", "C4D", ""])
def test_a_malformed_currency_is_refused(currency: str) -> None:
    with pytest.raises(InvalidAmount, match="ISO 4217"):
        to_cents("1.00", currency)


@pytest.mark.parametrize(
    ("cents", "error"),
    [
        pytest.param(0, InvalidAmount, id="zero"),
        pytest.param(-1, InvalidAmount, id="negative"),
        pytest.param(MAX_AMOUNT + 1, InvalidAmount, id="too-large"),
        pytest.param(True, AmountTypeError, id="bool"),
        pytest.param(19.99, AmountTypeError, id="float"),
        pytest.param(1999.0, AmountTypeError, id="whole-float"),
        pytest.param("1999", AmountTypeError, id="str"),
        pytest.param(Decimal(1999), AmountTypeError, id="decimal"),
    ],
)
def test_amount_cents_must_be_an_int_in_range(cents: object, error: type[Exception]) -> None:
    with pytest.raises(error):
        amount_in_cents(amount=None, amount_cents=cents, currency=None)  # type: ignore[arg-type]


def test_amount_cents_is_taken_as_it_is() -> None:
    assert amount_in_cents(amount=None, amount_cents=1, currency=None) == 1
    assert amount_in_cents(amount=None, amount_cents=MAX_AMOUNT, currency="CAD") == MAX_AMOUNT


@given(st.integers(min_value=1, max_value=MAX_AMOUNT))
def test_cents_to_major_units_and_back_is_exact(cents: int) -> None:
    major = from_cents(cents, "CAD")

    assert to_cents(major, "CAD") == cents
    assert to_cents(str(major), "CAD") == cents


@given(
    st.decimals(
        min_value=Decimal("0.01"),
        max_value=Decimal("21474836.47"),
        places=2,
        allow_nan=False,
        allow_infinity=False,
    )
)
def test_any_two_decimal_amount_in_range_is_its_cents(amount: Decimal) -> None:
    assert to_cents(amount) == int(amount * 100)

"""Money in, exactly: major units (``Decimal`` or ``str``) to whole minor units.

The gateway takes ``refundAmount`` in minor units (cents). IOTPay's PHP sample
computes them as ``intval($amount * 100)``, which turns 0.29 into 28 and 19.99
into 1998 (iotpay-v1-research.md §9, pitfall 1). Here nothing is ever rounded:

>>> from decimal import Decimal
>>> to_cents(Decimal("19.99"))
1999
>>> to_cents("0.29")
29
>>> to_cents("1000", "JPY")
1000
>>> to_cents("0.001")
Traceback (most recent call last):
...
refundgate.client.errors.InvalidAmount: amount 0.001 has more than 2 decimals
>>> to_cents(19.99)  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
refundgate.client.errors.AmountTypeError: amount must be a Decimal or a str such as '19.99', ...
>>> from_cents(1999, "CAD")
Decimal('19.99')
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from decimal import Decimal
from types import MappingProxyType

from refundgate.client.errors import AmountTypeError, InvalidAmount
from refundgate.protocol.fields import MAX_AMOUNT

__all__ = ["MAX_AMOUNT", "amount_in_cents", "check_cents", "exponent_of", "from_cents", "to_cents"]

#: ISO 4217 currencies whose minor unit is not 1/100. Every other code has 2
#: decimals, as the gateway's own currencies (CAD, USD, CNY) do.
_EXPONENTS: Mapping[str, int] = MappingProxyType(
    {
        **dict.fromkeys(
            [
                "BIF",
                "CLP",
                "DJF",
                "GNF",
                "ISK",
                "JPY",
                "KMF",
                "KRW",
                "PYG",
                "RWF",
                "UGX",
                "UYI",
                "VND",
                "VUV",
                "XAF",
                "XOF",
                "XPF",
            ],
            0,
        ),
        **dict.fromkeys(["BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND"], 3),
        "CLF": 4,
        "UYW": 4,
    }
)
_CURRENCY = re.compile(r"[A-Z]{3}")
#: A major-unit amount as text: digits, optionally a point and more digits.
_MAJOR_TEXT = re.compile(r"[0-9]+(?:\.[0-9]+)?")
#: Far beyond 2^31-1 minor units in any currency, so that no huge exponent is expanded.
_MAX_ADJUSTED = 15


def exponent_of(currency: str | None) -> int:
    """Decimals of ``currency``'s minor unit; 2 when no currency is given."""
    if currency is None:
        return 2
    if not isinstance(currency, str) or _CURRENCY.fullmatch(currency) is None:
        raise InvalidAmount(f"currency must be an ISO 4217 code such as 'CAD', not {currency!r}")
    return _EXPONENTS.get(currency, 2)


def check_cents(amount_cents: object) -> int:
    """``amount_cents`` if it is an ``int`` from 1 to 2^31-1 (a ``bool`` is not)."""
    if isinstance(amount_cents, bool) or not isinstance(amount_cents, int):
        raise AmountTypeError(
            f"amount_cents must be an int of minor units such as 1999,"
            f" not {type(amount_cents).__name__}"
        )
    if not 1 <= amount_cents <= MAX_AMOUNT:
        raise InvalidAmount(f"amount_cents must be from 1 to {MAX_AMOUNT}, not {amount_cents}")
    return amount_cents


def _decimal(amount: object) -> Decimal:
    if isinstance(amount, Decimal):
        return amount
    if isinstance(amount, str):
        # Decimal() would also take ' 1', '1_000', '1e3', '+1' and 'NaN': a
        # refund amount is written plainly or not at all.
        if _MAJOR_TEXT.fullmatch(amount) is None:
            raise InvalidAmount(f"amount must be written like '19.99', not {amount!r}")
        return Decimal(amount)
    if isinstance(amount, float):
        why = "a float cannot hold most cent amounts exactly"
    elif isinstance(amount, int):  # bool included
        why = "an int is ambiguous (units or cents?)"
    else:
        why = "it is not an amount"
    raise AmountTypeError(
        f"amount must be a Decimal or a str such as '19.99', not a {type(amount).__name__}:"
        f" {why} (pass Decimal('19.99'), '19.99' or amount_cents=1999)"
    )


def to_cents(amount: Decimal | str, currency: str | None = None) -> int:
    """The minor units of ``amount``, given in major units of ``currency``.

    Refused, with :class:`InvalidAmount`: more decimals than the currency has
    (trailing zeros are fine: ``"19.990"`` is 1999), zero, negative, NaN,
    infinite, or more than 2^31-1 minor units. Refused with
    :class:`AmountTypeError`: ``float``, ``int`` and ``bool``.
    """
    value = _decimal(amount)
    exponent = exponent_of(currency)
    if not value.is_finite() or value.is_signed() or value.is_zero():
        raise InvalidAmount(f"amount must be a positive number, not {amount}")
    if value.adjusted() > _MAX_ADJUSTED:
        raise InvalidAmount(f"amount {amount} is more than {MAX_AMOUNT} minor units")
    # Integer arithmetic on the digits: a Decimal context would round.
    _, digits, decimal_exponent = value.as_tuple()
    assert isinstance(decimal_exponent, int)  # finite, checked above
    coefficient = int("".join(map(str, digits)) or "0")
    shift = decimal_exponent + exponent
    if shift >= 0:
        cents = coefficient * int(10**shift)
    else:
        cents, rest = divmod(coefficient, int(10**-shift))
        if rest:
            unit = f" {currency}" if currency is not None else ""
            raise InvalidAmount(f"amount {amount}{unit} has more than {exponent} decimals")
    if not 1 <= cents <= MAX_AMOUNT:
        raise InvalidAmount(f"amount {amount} must be from 1 to {MAX_AMOUNT} minor units")
    return cents


def from_cents(amount_cents: int, currency: str | None = None) -> Decimal:
    """``amount_cents`` back in major units, exactly (for display)."""
    return Decimal(amount_cents).scaleb(-exponent_of(currency))


def amount_in_cents(
    *, amount: Decimal | str | None, amount_cents: int | None, currency: str | None
) -> int:
    """Exactly one of ``amount`` (major units) and ``amount_cents``, as minor units."""
    if (amount is None) == (amount_cents is None):
        raise AmountTypeError("give exactly one of amount (major units) and amount_cents")
    if amount_cents is not None:
        check_cents(amount_cents)
        if currency is not None:
            exponent_of(currency)  # a malformed currency is refused here too
        return amount_cents
    assert amount is not None
    return to_cents(amount, currency)

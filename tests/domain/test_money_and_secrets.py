from __future__ import annotations

from decimal import Decimal

import pytest

from refundgate.domain import Money
from refundgate.domain.secret import Secret


def test_money_adds_in_minor_units() -> None:
    assert Money(1999, "CAD") + Money(1, "CAD") == Money(2000, "CAD")


@pytest.mark.parametrize("amount", [19.99, Decimal("19.99"), True, "1999"])
def test_money_refuses_anything_but_int(amount: object) -> None:
    with pytest.raises(TypeError):
        Money(amount, "CAD")  # type: ignore[arg-type]


def test_money_refuses_mixing_currencies() -> None:
    with pytest.raises(ValueError, match="cannot mix"):
        Money(1, "CAD") + Money(1, "USD")


@pytest.mark.parametrize("currency", ["cad", "CA", "CADD", "C4D"])
def test_money_needs_an_iso_currency(currency: str) -> None:
    with pytest.raises(ValueError, match="ISO 4217"):
        Money(1, currency)


def test_secrets_never_show_themselves() -> None:
    secret = Secret("TESTKEY123")
    assert "TESTKEY123" not in repr(secret)
    assert "TESTKEY123" not in str(secret)
    assert "TESTKEY123" not in f"{secret} {[secret]} { ({'key': secret}) }"
    assert secret.reveal() == "TESTKEY123"

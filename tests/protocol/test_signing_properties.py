"""Signing properties over arbitrary field sets, unicode included.

The PHP-order property checks ``verify`` against ``tests.protocol.php``, a
step-by-step model of PHP's ``strnatcasecmp``, not against the code under test.
"""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from refundgate.protocol import sign, verify
from refundgate.protocol.signing import php_natural_order
from tests.protocol.php import php_sign, strnatcasecmp

KEY = "TESTKEY123"

TEXT = st.characters(codec="utf-8")
#: Characters that steer PHP's natural order: digits, zeros, case, spaces.
TRICKY = st.sampled_from(list("0019aAbBzZ_- \t"))
NAMES = st.text(st.one_of(TRICKY, TEXT), max_size=12)
VALUES = st.text(TEXT, min_size=1, max_size=12)
FIELDS = st.dictionaries(NAMES.filter(lambda name: name != "sign"), VALUES, min_size=1, max_size=8)


@settings(max_examples=200)
@given(
    fields=st.dictionaries(st.text(TEXT, max_size=12), st.none() | st.text(TEXT, max_size=12)),
    key=st.text(TEXT, max_size=20),
)
def test_what_sign_produces_verify_accepts(fields: dict[str, str | None], key: str) -> None:
    assert verify(fields, sign(fields, key), [key])


@settings(max_examples=200)
@given(fields=FIELDS)
def test_a_sign_made_in_php_natural_order_verifies(fields: dict[str, str]) -> None:
    assert verify(fields, php_sign(fields, KEY), [KEY])


@settings(max_examples=300)
@given(left=NAMES, right=NAMES)
def test_the_php_sort_key_orders_names_as_strnatcasecmp_does(left: str, right: str) -> None:
    by_key = (php_natural_order(left) > php_natural_order(right)) - (
        php_natural_order(left) < php_natural_order(right)
    )

    assert by_key == strnatcasecmp(left, right)


@settings(max_examples=200)
@given(fields=FIELDS, data=st.data())
def test_changing_any_value_breaks_the_sign(fields: dict[str, str], data: st.DataObject) -> None:
    signed = sign(fields, KEY)
    name = data.draw(st.sampled_from(sorted(fields)), label="changed field")
    suffix = data.draw(VALUES, label="appended text")

    assert not verify({**fields, name: fields[name] + suffix}, signed, [KEY])


@settings(max_examples=200)
@given(fields=FIELDS, data=st.data())
def test_dropping_any_field_breaks_the_sign(fields: dict[str, str], data: st.DataObject) -> None:
    signed = sign(fields, KEY)
    name = data.draw(st.sampled_from(sorted(fields)), label="dropped field")
    rest = {other: value for other, value in fields.items() if other != name}

    assert not verify(rest, signed, [KEY])

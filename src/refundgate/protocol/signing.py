"""MD5 signing of IOTPay v1 field sets (PROTOCOL.md, "Signing").

The canonical string is every field but ``sign`` whose value is not empty
(``""`` or JSON null), sorted by name, joined as ``name=value`` with ``&``,
followed by ``&key=`` and the merchant key. The sign is the upper-case hex MD5
of its UTF-8 bytes.

Nothing here logs or returns a string that contains a key.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable, Iterable, Mapping, Sequence

__all__ = ["SignedValue", "php_natural_order", "sign", "verify"]

#: A value as it takes part in a signature: its text, or None for JSON null.
SignedValue = str | int | None

_ZERO = ord("0")
_DIGITS = frozenset("0123456789")
#: ``isspace()`` in the C locale, which PHP runs in.
_SPACES = frozenset(" \t\n\v\f\r")
_NUL: tuple[int, int, int] = (0, 0, 0)


def _pairs(fields: Mapping[str, SignedValue]) -> list[tuple[str, str]]:
    return [
        (name, str(value))
        for name, value in fields.items()
        if name != "sign" and value is not None and value != ""
    ]


def _digest(pairs: Iterable[tuple[str, str]], key: str) -> str:
    text = "".join(f"{name}={value}&" for name, value in pairs) + "key=" + key
    return hashlib.md5(text.encode("utf-8"), usedforsecurity=False).hexdigest().upper()


def _upper(char: str) -> int:
    """PHP's ``toupper()``: ASCII letters only (C locale)."""
    code = ord(char)
    return code - 32 if 0x61 <= code <= 0x7A else code


def _digit_run(run: str) -> list[tuple[int, int, int]]:
    # Every token of a run leads with ord("0"): against a non-digit, any digit
    # compares as "0" would, since all digits lie together in ASCII.
    digits = [(_ZERO, 1, ord(digit)) for digit in run]
    if run[0] == "0":
        # strnatcmp's compare_left: digit by digit, a run that ends first sorts first.
        return [*digits, (_ZERO, 0, 0)]
    # compare_right: the longer run is the larger number, then digit by digit.
    return [(_ZERO, 1 + len(run), 0), *digits]


def php_natural_order(name: str) -> tuple[tuple[int, int, int], ...]:
    """Sort key of PHP 8's ``ksort($a, SORT_NATURAL | SORT_FLAG_CASE)``.

    Every official IOTPay PHP sample sorts this way (iotpay-v1-research.md
    §2.3). The key reproduces ``strnatcmp_ex`` (php-src
    ext/standard/strnatcmp.c) on the name's UTF-8 bytes: zeros leading the
    name are skipped; whitespace is skipped, except one character straight
    after a digit run, and a trailing run compares as the terminating NUL;
    digit runs compare as numbers, or digit by digit when either starts with
    ``0``; ASCII letters compare upper-cased. Ties keep input order, as PHP 8's
    stable sort does.
    """
    key: list[tuple[int, int, int]] = []
    at, end = 0, len(name)
    while at + 1 < end and name[at] == "0" and name[at + 1] in _DIGITS:
        at += 1
    while at < end:
        char = name[at]
        if char in _SPACES:
            while at < end and name[at] in _SPACES:
                at += 1
            if at == end:
                key.append(_NUL)
        elif char in _DIGITS:
            run_end = at
            while run_end < end and name[run_end] in _DIGITS:
                run_end += 1
            key.extend(_digit_run(name[at:run_end]))
            at = run_end
            if at < end and name[at] in _SPACES:
                key.append((ord(name[at]), 0, 0))
                at += 1
        else:
            key.append((_upper(char), 0, 0))
            at += 1
    return tuple(key)


def sign(fields: Mapping[str, SignedValue], key: str) -> str:
    """The sign of ``fields`` under ``key``, with names in byte order."""
    return _digest(sorted(_pairs(fields)), key)


def _php_sign(fields: Mapping[str, SignedValue], key: str) -> str:
    return _digest(sorted(_pairs(fields), key=lambda pair: php_natural_order(pair[0])), key)


_SIGNERS: tuple[Callable[[Mapping[str, SignedValue], str], str], ...] = (sign, _php_sign)


def verify(fields: Mapping[str, SignedValue], received: str, keys: Sequence[str]) -> bool:
    """Whether ``received`` signs ``fields`` under one of ``keys``.

    Accepts byte order, then PHP natural-case order, for each key in turn;
    each comparison is case-insensitive and constant-time.
    """
    # bytes.upper() folds ASCII only: no other character may stand for a hex digit.
    offered = received.encode("utf-8", "surrogatepass").upper()
    return any(
        hmac.compare_digest(signer(fields, key).encode("ascii"), offered)
        for key in keys
        for signer in _SIGNERS
    )

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
import re
from collections.abc import Callable, Iterable, Mapping, Sequence

__all__ = ["SignedValue", "php_natural_order", "sign", "verify"]

#: A value as it takes part in a signature: its text, or None for JSON null.
SignedValue = str | int | None

_DIGIT_RUNS = re.compile(r"(\d+)")
_DIGIT = ord("0")


def _pairs(fields: Mapping[str, SignedValue]) -> list[tuple[str, str]]:
    return [
        (name, str(value))
        for name, value in fields.items()
        if name != "sign" and value is not None and value != ""
    ]


def _digest(pairs: Iterable[tuple[str, str]], key: str) -> str:
    text = "".join(f"{name}={value}&" for name, value in pairs) + "key=" + key
    return hashlib.md5(text.encode("utf-8"), usedforsecurity=False).hexdigest().upper()


def php_natural_order(name: str) -> tuple[tuple[int, int, int], ...]:
    """Sort key of PHP's ``ksort($a, SORT_NATURAL | SORT_FLAG_CASE)``.

    Every official IOTPay PHP sample sorts this way: digit runs compare as
    numbers, letters compare upper-cased (iotpay-v1-research.md §2.3). A digit
    run sorts as the character ``0`` would against a non-digit, since all digits
    lie together in ASCII. Ties keep input order, as PHP 8's stable sort does.
    """
    key: list[tuple[int, int, int]] = []
    for part in _DIGIT_RUNS.split(name):
        if part.isdigit() and part.isascii():
            key.append((_DIGIT, int(part), len(part)))
        else:
            key.extend((ord(char.upper()), 0, 0) for char in part)
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
    offered = received.upper().encode("utf-8")
    return any(
        hmac.compare_digest(signer(fields, key).encode("ascii"), offered)
        for key in keys
        for signer in _SIGNERS
    )

"""What a PHP merchant signs: an independent model of the official PHP sample.

``strnatcasecmp`` follows ``strnatcmp_ex`` of PHP 8 (php-src
ext/standard/strnatcmp.c) step by step, over the UTF-8 bytes and with the
terminating NUL a PHP string carries, so that the tests can check
``refundgate.protocol.signing`` against PHP's comparison rather than against
itself. ``ksort_natural_case`` is ``ksort($a, SORT_NATURAL | SORT_FLAG_CASE)``
(stable since PHP 8.0), and ``php_sign`` the sample's ``create_linkstring`` +
``md5`` + ``strtoupper``.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Mapping

_ZERO = ord("0")


def _byte(text: bytes, at: int) -> int:
    """``*p`` in C: past the last byte sits the terminating NUL."""
    return text[at] if at < len(text) else 0


def _isdigit(byte: int) -> bool:
    return 0x30 <= byte <= 0x39


def _isspace(byte: int) -> bool:
    return byte in b" \t\n\v\f\r"


def _toupper(byte: int) -> int:
    return byte - 32 if 0x61 <= byte <= 0x7A else byte


def _run_ends(text: bytes, at: int) -> bool:
    return at == len(text) or not _isdigit(text[at])


def _compare_left(a: bytes, ap: int, b: bytes, bp: int) -> tuple[int, int, int]:
    """Left-aligned digit runs: the first differing digit wins."""
    while True:
        a_done, b_done = _run_ends(a, ap), _run_ends(b, bp)
        if a_done and b_done:
            return 0, ap, bp
        if a_done:
            return -1, ap, bp
        if b_done:
            return 1, ap, bp
        if a[ap] != b[bp]:
            return (-1 if a[ap] < b[bp] else 1), ap, bp
        ap, bp = ap + 1, bp + 1


def _compare_right(a: bytes, ap: int, b: bytes, bp: int) -> tuple[int, int, int]:
    """Right-aligned digit runs: the longest wins, then the first difference."""
    bias = 0
    while True:
        a_done, b_done = _run_ends(a, ap), _run_ends(b, bp)
        if a_done and b_done:
            return bias, ap, bp
        if a_done:
            return -1, ap, bp
        if b_done:
            return 1, ap, bp
        if not bias and a[ap] != b[bp]:
            bias = -1 if a[ap] < b[bp] else 1
        ap, bp = ap + 1, bp + 1


def strnatcasecmp(left: str, right: str) -> int:
    """PHP 8's ``strnatcasecmp``: -1, 0 or 1."""
    a, b = left.encode(), right.encode()
    if not a or not b:
        return (len(a) > len(b)) - (len(a) < len(b))
    ap = bp = 0
    ca, cb = a[0], b[0]
    while ca == _ZERO and ap + 1 < len(a) and _isdigit(a[ap + 1]):
        ap += 1
        ca = a[ap]
    while cb == _ZERO and bp + 1 < len(b) and _isdigit(b[bp + 1]):
        bp += 1
        cb = b[bp]
    while True:
        while _isspace(ca):
            ap += 1
            ca = _byte(a, ap)
        while _isspace(cb):
            bp += 1
            cb = _byte(b, bp)
        if _isdigit(ca) and _isdigit(cb):
            compare = _compare_left if _ZERO in (ca, cb) else _compare_right
            result, ap, bp = compare(a, ap, b, bp)
            if result:
                return result
            if ap == len(a) and bp == len(b):
                return 0
            if ap == len(a):
                return -1
            if bp == len(b):
                return 1
            ca, cb = a[ap], b[bp]
        ca, cb = _toupper(ca), _toupper(cb)
        if ca != cb:
            return -1 if ca < cb else 1
        ap, bp = ap + 1, bp + 1
        if ap >= len(a) and bp >= len(b):
            return 0
        if ap >= len(a):
            return -1
        if bp >= len(b):
            return 1
        ca, cb = a[ap], b[bp]


def ksort_natural_case(names: list[str]) -> list[str]:
    """``ksort($a, SORT_NATURAL | SORT_FLAG_CASE)`` over keys in insertion order."""
    return sorted(names, key=functools.cmp_to_key(strnatcasecmp))


def php_sign(fields: Mapping[str, str], key: str) -> str:
    """The official PHP sample's sign: drop ``""``, ksort natural-case, join, MD5."""
    kept = {name: value for name, value in fields.items() if name != "sign" and value != ""}
    text = "&".join(f"{name}={kept[name]}" for name in ksort_natural_case(list(kept)))
    return hashlib.md5(f"{text}&key={key}".encode()).hexdigest().upper()

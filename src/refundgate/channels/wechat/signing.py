"""WeChat Pay v2 signatures and the refund notify's encryption (channels.md §A.4, §A.7).

Signature: every field but ``sign`` whose value is not empty, sorted by name
(ASCII), joined as ``k=v&…``, then ``&key=<API key>``; MD5 or HMAC-SHA256
(keyed with the API key) of the UTF-8 bytes, upper-case hex. Comparison is
constant-time. Nothing here logs, and no string holding the key leaves it.

Refund notify: ``req_info`` is base64 of AES-256-ECB, PKCS#7-padded, keyed
with the 32 ASCII bytes of the lower-case hex MD5 of the API key.
"""

from __future__ import annotations

import base64
import binascii
import enum
import hashlib
import hmac
from collections.abc import Mapping

from cryptography.hazmat.primitives import padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

__all__ = [
    "SignType",
    "UndecryptableNotify",
    "decrypt_req_info",
    "sign",
    "string_to_sign",
    "verify",
]


class SignType(enum.Enum):
    MD5 = "MD5"
    HMAC_SHA256 = "HMAC-SHA256"


class UndecryptableNotify(Exception):
    """``req_info`` is not base64 of an AES block sequence our key opens."""


def string_to_sign(fields: Mapping[str, str]) -> str:
    """The canonical ``k=v&…`` string, without the key. Values are sent raw."""
    return "&".join(
        f"{name}={fields[name]}" for name in sorted(fields) if name != "sign" and fields[name] != ""
    )


def sign(fields: Mapping[str, str], api_key: str, sign_type: SignType = SignType.MD5) -> str:
    """The ``sign`` of ``fields`` (``sign`` itself and empty values left out)."""
    message = f"{string_to_sign(fields)}&key={api_key}".encode()
    if sign_type is SignType.HMAC_SHA256:
        digest = hmac.new(api_key.encode(), message, hashlib.sha256).hexdigest()
    else:
        digest = hashlib.md5(message, usedforsecurity=False).hexdigest()
    return digest.upper()


def verify(fields: Mapping[str, str], api_key: str, sign_type: SignType = SignType.MD5) -> bool:
    """Whether ``fields["sign"]`` is the signature of the other fields."""
    given = fields.get("sign", "")
    expected = sign(fields, api_key, sign_type)
    return hmac.compare_digest(given.encode(), expected.encode())


def _notify_key(api_key: str) -> bytes:
    return hashlib.md5(api_key.encode(), usedforsecurity=False).hexdigest().encode("ascii")


def decrypt_req_info(req_info: str, api_key: str) -> bytes:
    """The plaintext XML of a refund notify's ``req_info``."""
    try:
        ciphertext = base64.b64decode(req_info, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise UndecryptableNotify("req_info is not base64") from exc
    if not ciphertext or len(ciphertext) % 16:
        raise UndecryptableNotify("req_info is not a whole number of AES blocks")
    decryptor = Cipher(algorithms.AES(_notify_key(api_key)), modes.ECB()).decryptor()  # noqa: S305 - WeChat's scheme
    padded = decryptor.update(ciphertext) + decryptor.finalize()
    unpadder = padding.PKCS7(128).unpadder()
    try:
        return unpadder.update(padded) + unpadder.finalize()
    except ValueError as exc:
        raise UndecryptableNotify("req_info does not open with this key") from exc

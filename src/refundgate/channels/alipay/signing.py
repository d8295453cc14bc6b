"""Alipay RSA2 signatures: SHA256withRSA, PKCS#1 v1.5 (channels.md §C.5).

A request is signed over its *content string*: every parameter but ``sign``
whose value is not empty, sorted by name (ASCII), joined as ``k=v`` with ``&``,
values raw (not URL-encoded). An answer is verified over the exact text of its
``*_response`` node as received, which :mod:`.wire` extracts.

Keys come as PEM or as the bare base64 bodies Alipay's key tool hands out
(PKCS#8 or PKCS#1 private keys, SubjectPublicKeyInfo or PKCS#1 public keys).
Nothing here logs a key or returns a string that holds one.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

__all__ = [
    "MIN_KEY_BITS",
    "content_to_sign",
    "load_private_key",
    "load_public_key",
    "sign_content",
    "verify_content",
]

#: RSA2 keys are 2048 bits; anything shorter is refused rather than trusted.
MIN_KEY_BITS = 2048


def content_to_sign(params: Mapping[str, str]) -> str:
    """The string a request's ``sign`` covers: sorted non-empty ``k=v`` without ``sign``."""
    pairs = sorted((name, value) for name, value in params.items() if name != "sign" and value)
    return "&".join(f"{name}={value}" for name, value in pairs)


def sign_content(content: str, key: rsa.RSAPrivateKey) -> str:
    """Base64 SHA256withRSA signature of ``content``'s UTF-8 bytes."""
    signature = key.sign(content.encode("utf-8"), padding.PKCS1v15(), hashes.SHA256())
    return base64.b64encode(signature).decode("ascii")


def verify_content(content: str, signature: str, key: rsa.RSAPublicKey) -> bool:
    """Whether ``signature`` (base64) is the RSA2 signature of ``content``."""
    try:
        raw = base64.b64decode(signature.encode("ascii"), validate=True)
    except (UnicodeEncodeError, binascii.Error):
        return False
    try:
        key.verify(raw, content.encode("utf-8"), padding.PKCS1v15(), hashes.SHA256())
    except InvalidSignature:
        return False
    return True


def _der(text: str) -> bytes:
    """The DER bytes of a bare base64 key body (whitespace allowed)."""
    compact = "".join(text.split())
    try:
        return base64.b64decode(compact.encode("ascii"), validate=True)
    except (UnicodeEncodeError, binascii.Error) as exc:
        raise ValueError("not a PEM key nor a base64 key body") from exc


def _checked_private(key: object) -> rsa.RSAPrivateKey:
    if not isinstance(key, rsa.RSAPrivateKey):
        raise ValueError("RSA2 needs an RSA private key")
    if key.key_size < MIN_KEY_BITS:
        raise ValueError(f"RSA2 needs a key of at least {MIN_KEY_BITS} bits")
    return key


def _checked_public(key: object) -> rsa.RSAPublicKey:
    if not isinstance(key, rsa.RSAPublicKey):
        raise ValueError("RSA2 needs an RSA public key")
    if key.key_size < MIN_KEY_BITS:
        raise ValueError(f"RSA2 needs a key of at least {MIN_KEY_BITS} bits")
    return key


def load_private_key(text: str) -> rsa.RSAPrivateKey:
    """An RSA private key from PEM or a bare base64 PKCS#8 / PKCS#1 body.

    Raises :class:`ValueError` without echoing the key when it cannot be read.
    """
    try:
        if "-----BEGIN" in text:
            key = serialization.load_pem_private_key(text.encode("ascii"), password=None)
        else:
            key = serialization.load_der_private_key(_der(text), password=None)
    except (TypeError, UnicodeEncodeError, UnsupportedAlgorithm) as exc:
        raise ValueError("unreadable private key") from exc
    except ValueError:
        raise ValueError("unreadable private key") from None
    return _checked_private(key)


def load_public_key(text: str) -> rsa.RSAPublicKey:
    """An RSA public key from PEM or a bare base64 SubjectPublicKeyInfo / PKCS#1 body."""
    try:
        if "-----BEGIN" in text:
            key = serialization.load_pem_public_key(text.encode("ascii"))
        else:
            key = serialization.load_der_public_key(_der(text))
    except (UnicodeEncodeError, UnsupportedAlgorithm) as exc:
        raise ValueError("unreadable public key") from exc
    except ValueError:
        raise ValueError("unreadable public key") from None
    return _checked_public(key)

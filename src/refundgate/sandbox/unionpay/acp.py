"""UnionPay's side of ACP 5.1.0 messages, written from channels.md §D.1 and §D.4.

The simulator reads merchants' form posts, checks their ``signMethod=01``
signatures and writes its own answers as raw ``k=v&k=v`` text, signed with the
simulated UnionPay key. It shares no code with the connector in
``refundgate.channels.unionpay``: each side follows the document on its own.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Mapping
from urllib.parse import parse_qsl, urlencode

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

__all__ = ["FormError", "form_body", "read_form", "reply_text", "signature_matches", "signed"]


class FormError(ValueError):
    """A body that is not a form UnionPay would read."""


def read_form(body: bytes) -> dict[str, str]:
    """The fields of a URL-encoded POST body; a repeated field is an error."""
    try:
        pairs = parse_qsl(body.decode("utf-8"), keep_blank_values=True, strict_parsing=True)
    except (UnicodeDecodeError, ValueError) as exc:
        raise FormError(str(exc)) from None
    fields = dict(pairs)
    if len(fields) != len(pairs):
        raise FormError("repeated field")
    return fields


def _digest_text(fields: Mapping[str, str]) -> bytes:
    # §D.4 steps 1-3: drop the signature and empty values, sort, join raw,
    # then the lower-case hex of SHA-256 is what gets signed.
    parts = [f"{name}={fields[name]}" for name in sorted(fields) if name != "signature"]
    text = "&".join(part for part in parts if not part.endswith("="))
    return hashlib.sha256(text.encode("utf-8")).hexdigest().encode("ascii")


def signed(fields: Mapping[str, str], key: rsa.RSAPrivateKey) -> dict[str, str]:
    """``fields`` with their ``signature`` (§D.4 step 4)."""
    raw = key.sign(_digest_text(fields), padding.PKCS1v15(), hashes.SHA256())
    return {**fields, "signature": base64.b64encode(raw).decode("ascii")}


def signature_matches(fields: Mapping[str, str], cert: x509.Certificate) -> bool:
    """Whether ``fields["signature"]`` was made by the key of ``cert``."""
    key = cert.public_key()
    if not isinstance(key, rsa.RSAPublicKey):
        return False
    try:
        raw = base64.b64decode(fields.get("signature", ""), validate=True)
        key.verify(raw, _digest_text(fields), padding.PKCS1v15(), hashes.SHA256())
    except (ValueError, InvalidSignature):
        return False
    return True


def reply_text(fields: Mapping[str, str]) -> bytes:
    """A synchronous answer: ``k=v&k=v`` with raw values, as UnionPay sends it (§D.1)."""
    return "&".join(f"{name}={value}" for name, value in fields.items()).encode("utf-8")


def form_body(fields: Mapping[str, str]) -> bytes:
    """A URL-encoded form: how UnionPay posts a notify to the ``backUrl`` (§D.6)."""
    return urlencode(dict(fields)).encode("ascii")

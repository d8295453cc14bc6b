"""The simulated Alipay's keys and RSA2 (SHA256withRSA, PKCS#1 v1.5) checks.

Written from channels.md §C.5 independently of the connector: a simulator
that shared the client's signing code would agree with any bug in it.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

__all__ = ["KeyPair", "signed_text"]


def signed_text(params: Mapping[str, str]) -> str:
    """What a request's signature covers: non-empty parameters but ``sign``, sorted."""
    kept = {name: value for name, value in params.items() if name != "sign" and value != ""}
    return "&".join(f"{name}={kept[name]}" for name in sorted(kept))


@dataclass(frozen=True, slots=True)
class KeyPair:
    """An RSA key pair made for the sandbox; its private half is not a real secret."""

    private: rsa.RSAPrivateKey

    @classmethod
    def generate(cls) -> KeyPair:
        return cls(rsa.generate_private_key(public_exponent=65537, key_size=2048))

    @property
    def private_pem(self) -> str:
        return self.private.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ).decode("ascii")

    @property
    def public_pem(self) -> str:
        public = self.private.public_key()
        return public.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        ).decode("ascii")

    def sign(self, text: str) -> str:
        raw = self.private.sign(text.encode("utf-8"), padding.PKCS1v15(), hashes.SHA256())
        return base64.b64encode(raw).decode("ascii")

    def verifies(self, text: str, signature: str) -> bool:
        """Whether ``signature`` is this key's RSA2 signature of ``text``."""
        try:
            raw = base64.b64decode(signature, validate=True)
            self.private.public_key().verify(
                raw, text.encode("utf-8"), padding.PKCS1v15(), hashes.SHA256()
            )
        except (binascii.Error, ValueError, InvalidSignature):
            return False
        return True

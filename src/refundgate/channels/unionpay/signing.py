"""UnionPay ACP 5.1.0 signatures with ``signMethod=01`` (channels.md §D.4).

Signing hashes twice: the sorted ``k=v&k=v`` string is reduced to the
lower-case hex of its SHA-256, and those 64 ASCII characters are signed with
SHA256withRSA (PKCS#1 v1.5). UnionPay's answers carry their signing
certificate in ``signPubKeyCert``; it is trusted only once it chains to the
configured root and intermediate, is within its validity dates, and names
UnionPay in the third ``@``-separated part of its CN, as the official SDK checks.
"""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509 import verification
from cryptography.x509.oid import NameOID

from refundgate.domain.secret import Secret

__all__ = [
    "PRODUCTION_IDENTITY",
    "TEST_IDENTITY",
    "SignerTrust",
    "UntrustedCertificate",
    "cert_id",
    "digest_hex",
    "identity_of",
    "load_certificates",
    "load_signing_key",
    "sign",
    "signing_string",
    "trusted_signer_key",
    "verify",
]

#: CN identity of UnionPay's production signing certificates.
PRODUCTION_IDENTITY = "中国银联股份有限公司"
#: CN identity of UnionPay's test-environment signing certificates.
TEST_IDENTITY = "00040000:SIGN"

_SIGNATURE = "signature"


class UntrustedCertificate(Exception):
    """A ``signPubKeyCert`` that does not chain, has expired, or names someone else."""


def signing_string(fields: Mapping[str, str]) -> str:
    """Every non-empty field but ``signature``, sorted by key, as raw ``k=v&k=v``."""
    kept = sorted((k, v) for k, v in fields.items() if k != _SIGNATURE and v != "")
    return "&".join(f"{key}={value}" for key, value in kept)


def digest_hex(fields: Mapping[str, str]) -> bytes:
    """The lower-case hex SHA-256 of the signing string: what RSA actually signs."""
    return hashlib.sha256(signing_string(fields).encode("utf-8")).hexdigest().encode("ascii")


def sign(fields: Mapping[str, str], key: rsa.RSAPrivateKey) -> str:
    """The base64 ``signature`` of ``fields`` (which must already hold ``certId``)."""
    raw = key.sign(digest_hex(fields), padding.PKCS1v15(), hashes.SHA256())
    return base64.b64encode(raw).decode("ascii")


def verify(fields: Mapping[str, str], key: rsa.RSAPublicKey) -> bool:
    """Whether ``fields["signature"]`` is the signer's signature of the other fields."""
    try:
        raw = base64.b64decode(fields.get(_SIGNATURE, ""), validate=True)
        key.verify(raw, digest_hex(fields), padding.PKCS1v15(), hashes.SHA256())
    except (binascii.Error, InvalidSignature):
        return False
    return True


def cert_id(cert: x509.Certificate) -> str:
    """``certId``: the certificate's serial number in decimal."""
    return str(cert.serial_number)


# Loading checks the RSA key's consistency, which takes about 0.1 s: worth
# doing once per key, not once per connector built for a channel account.
@functools.lru_cache(maxsize=64)
def load_signing_key(pem: Secret) -> rsa.RSAPrivateKey:
    """The RSA private key in ``pem`` (unencrypted PKCS#8 or PKCS#1)."""
    key = serialization.load_pem_private_key(pem.reveal().encode("ascii"), password=None)
    if not isinstance(key, rsa.RSAPrivateKey):
        raise ValueError("the UnionPay signing key must be an RSA key")
    return key


def load_certificates(pem: str) -> list[x509.Certificate]:
    """Every certificate of a PEM bundle, in order; at least one."""
    certs = x509.load_pem_x509_certificates(pem.encode("ascii"))
    if not certs:  # pragma: no cover - cryptography already refuses an empty bundle
        raise ValueError("no certificate in the PEM text")
    return certs


def identity_of(cert: x509.Certificate) -> str | None:
    """The third ``@``-separated part of the subject CN, or None if it has none."""
    names = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    if len(names) != 1 or not isinstance(names[0].value, str):
        return None
    parts = names[0].value.split("@")
    return parts[2] if len(parts) > 2 else None


@dataclass(frozen=True, slots=True)
class SignerTrust:
    """What a ``signPubKeyCert`` must chain to, and whom it must name."""

    roots: Sequence[x509.Certificate]
    intermediates: Sequence[x509.Certificate]
    identities: Collection[str] = frozenset({PRODUCTION_IDENTITY})

    @classmethod
    def from_bundle(
        cls, pem: str, *, identities: Collection[str] = frozenset({PRODUCTION_IDENTITY})
    ) -> SignerTrust:
        """Split a PEM bundle: self-issued certificates are roots, the rest intermediates."""
        certs = load_certificates(pem)
        roots = [c for c in certs if c.issuer == c.subject]
        if not roots:
            raise ValueError("the UnionPay verify bundle holds no root certificate")
        middles = [c for c in certs if c.issuer != c.subject]
        return cls(tuple(roots), tuple(middles), frozenset(identities))


def _verifier(trust: SignerTrust, at: datetime) -> verification.ClientVerifier:
    # UnionPay's certificates are not Web PKI server certificates: require of
    # the CAs only that they are CAs, and of the signing certificate nothing
    # beyond a valid chain, its dates and (below) its CN.
    ca_policy = verification.ExtensionPolicy.permit_all().require_present(
        x509.BasicConstraints, verification.Criticality.AGNOSTIC, None
    )
    return (
        verification.PolicyBuilder()
        .store(verification.Store(list(trust.roots)))
        .time(at)
        .extension_policies(
            ca_policy=ca_policy, ee_policy=verification.ExtensionPolicy.permit_all()
        )
        .build_client_verifier()
    )


def trusted_signer_key(cert_pem: str, trust: SignerTrust, *, at: datetime) -> rsa.RSAPublicKey:
    """The public key of ``cert_pem`` once the certificate passes every check.

    Raises :class:`UntrustedCertificate` when it cannot be read, does not chain
    to ``trust``, is outside its validity dates at ``at``, names another
    identity, or holds no RSA key.
    """
    try:
        cert = x509.load_pem_x509_certificate(cert_pem.encode("ascii"))
        _verifier(trust, at).verify(cert, list(trust.intermediates))
    except (ValueError, UnicodeEncodeError, UnsupportedAlgorithm) as exc:
        raise UntrustedCertificate(f"unreadable signPubKeyCert: {exc}") from None
    except verification.VerificationError as exc:
        raise UntrustedCertificate(f"signPubKeyCert does not chain: {exc}") from None
    if identity_of(cert) not in trust.identities:
        raise UntrustedCertificate("signPubKeyCert names another identity")
    key = cert.public_key()
    if not isinstance(key, rsa.RSAPublicKey):
        raise UntrustedCertificate("signPubKeyCert holds no RSA key")
    return key

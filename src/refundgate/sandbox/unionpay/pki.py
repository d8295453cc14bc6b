"""The simulator's certificates: a test UnionPay PKI made at start.

A root and an intermediate CA issue two signing certificates: the simulated
UnionPay's own (CN in the test form ``…@…@00040000:SIGN@…``, carried in every
answer's ``signPubKeyCert``) and the sandbox merchant's, whose decimal serial
is the merchant's ``certId``. Nothing here is secret outside the sandbox.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

__all__ = ["SIGN_IDENTITY", "Issued", "SandboxPki", "issue"]

#: The identity UnionPay's test signing certificates carry (channels.md §D.4).
SIGN_IDENTITY = "00040000:SIGN"

_VALIDITY = timedelta(days=3650)


@dataclass(frozen=True, slots=True)
class Issued:
    """A key and the certificate issued for it."""

    key: rsa.RSAPrivateKey
    cert: x509.Certificate

    @property
    def cert_pem(self) -> str:
        return self.cert.public_bytes(serialization.Encoding.PEM).decode("ascii")

    @property
    def key_pem(self) -> str:
        raw = self.key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        return raw.decode("ascii")


def _name(common_name: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "CN"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "refundgate sandbox"),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


_CA_USAGE = x509.KeyUsage(
    digital_signature=False, content_commitment=False, key_encipherment=False,
    data_encipherment=False, key_agreement=False, key_cert_sign=True, crl_sign=True,
    encipher_only=False, decipher_only=False,
)  # fmt: skip
_SIGNER_USAGE = x509.KeyUsage(
    digital_signature=True, content_commitment=True, key_encipherment=False,
    data_encipherment=False, key_agreement=False, key_cert_sign=False, crl_sign=False,
    encipher_only=False, decipher_only=False,
)  # fmt: skip


def issue(
    common_name: str,
    *,
    issuer: Issued | None = None,
    ca: bool = False,
    not_before: datetime | None = None,
    validity: timedelta = _VALIDITY,
    key: rsa.RSAPrivateKey | None = None,
) -> Issued:
    """A certificate for ``common_name``, signed by ``issuer`` (self-signed if None)."""
    key = key or rsa.generate_private_key(public_exponent=65537, key_size=2048)
    start = not_before or datetime.now(UTC) - timedelta(days=1)
    signer = issuer.key if issuer else key
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(common_name))
        .issuer_name(issuer.cert.subject if issuer else _name(common_name))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(start + validity)
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        .add_extension(_CA_USAGE if ca else _SIGNER_USAGE, critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
    )
    if issuer:
        aki = x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer.key.public_key())
        builder = builder.add_extension(aki, critical=False)
    return Issued(key, builder.sign(signer, hashes.SHA256()))


@dataclass(frozen=True, slots=True)
class SandboxPki:
    """Root, intermediate, the simulated UnionPay's signer and the merchant's signer."""

    root: Issued
    middle: Issued
    unionpay: Issued
    merchant: Issued

    @classmethod
    def generate(cls, mer_id: str) -> SandboxPki:
        """A fresh PKI (four RSA-2048 keys: a fraction of a second)."""
        root = issue("refundgate sandbox UnionPay root", ca=True)
        middle = issue("refundgate sandbox UnionPay middle", issuer=root, ca=True)
        unionpay = issue(f"041@sandbox@{SIGN_IDENTITY}@00000001", issuer=middle)
        merchant = issue(f"041@{mer_id}@merchant@00000001", issuer=middle)
        return cls(root, middle, unionpay, merchant)

    @property
    def verify_bundle_pem(self) -> str:
        """The root then the intermediate: what the merchant verifies answers with."""
        return self.root.cert_pem + self.middle.cert_pem

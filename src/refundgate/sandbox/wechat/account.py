"""The sandbox merchant: app id, merchant id, API key, and its certificates.

Made fresh at start. One private CA signs both the merchant's API client
certificate (what WeChat issues to merchants for the refund call) and a
server certificate for 127.0.0.1/localhost, so the simulator can also be
served over mutual TLS. EC P-256 keys: quick to make, and any TLS stack takes them.
"""

from __future__ import annotations

import ipaddress
import secrets
import string
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from refundgate.domain.secret import Secret

__all__ = ["SandboxMerchant"]

_VALIDITY = timedelta(days=365)


def _name(common_name: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "refundgate sandbox"),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def _pem_key(key: ec.EllipticCurvePrivateKey) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode("ascii")


def _pem_cert(cert: x509.Certificate) -> str:
    return cert.public_bytes(serialization.Encoding.PEM).decode("ascii")


@dataclass(frozen=True, slots=True)
class _Issued:
    cert_pem: str
    key_pem: Secret


class _Authority:
    def __init__(self, now: datetime) -> None:
        self.key = ec.generate_private_key(ec.SECP256R1())
        self.name = _name("refundgate sandbox CA")
        self.now = now
        builder = self._builder(self.name, self.key.public_key()).add_extension(
            x509.BasicConstraints(ca=True, path_length=0), critical=True
        )
        self.cert = builder.sign(self.key, hashes.SHA256())

    def _builder(
        self, subject: x509.Name, public_key: ec.EllipticCurvePublicKey
    ) -> x509.CertificateBuilder:
        return (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(self.name)
            .public_key(public_key)
            .serial_number(x509.random_serial_number())
            .not_valid_before(self.now - timedelta(minutes=5))
            .not_valid_after(self.now + _VALIDITY)
        )

    def issue(self, common_name: str, usage: x509.ObjectIdentifier, *, server: bool) -> _Issued:
        key = ec.generate_private_key(ec.SECP256R1())
        builder = self._builder(_name(common_name), key.public_key()).add_extension(
            x509.ExtendedKeyUsage([usage]), critical=False
        )
        if server:
            names = [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
        builder = builder.add_extension(x509.BasicConstraints(ca=False, path_length=None), True)
        cert = builder.sign(self.key, hashes.SHA256())
        return _Issued(_pem_cert(cert), Secret(_pem_key(key)))


def _digits(count: int) -> str:
    return "".join(secrets.choice(string.digits) for _ in range(count))


@dataclass(frozen=True, slots=True)
class SandboxMerchant:
    """Everything a client needs, and the CA and server identity for TLS serving."""

    appid: str
    mch_id: str
    api_key: Secret
    ca_pem: str
    client: _Issued
    server: _Issued

    @classmethod
    def generate(cls, now: datetime | None = None) -> SandboxMerchant:
        authority = _Authority(now or datetime.now(UTC))
        mch_id = "1" + _digits(9)
        return cls(
            appid="wx" + secrets.token_hex(8),
            mch_id=mch_id,
            api_key=Secret(secrets.token_hex(16)),
            ca_pem=_pem_cert(authority.cert),
            client=authority.issue(mch_id, ExtendedKeyUsageOID.CLIENT_AUTH, server=False),
            server=authority.issue("localhost", ExtendedKeyUsageOID.SERVER_AUTH, server=True),
        )

    def credentials(self) -> dict[str, str]:
        """The control API's answer: what a client needs, secrets included (it is a sandbox)."""
        return {
            "appid": self.appid,
            "mch_id": self.mch_id,
            "api_key": self.api_key.reveal(),
            "cert_pem": self.client.cert_pem,
            "key_pem": self.client.key_pem.reveal(),
            "ca_pem": self.ca_pem,
        }

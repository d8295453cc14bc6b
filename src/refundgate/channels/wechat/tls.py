"""The TLS context of the refund call: WeChat wants the merchant's client certificate."""

from __future__ import annotations

import ssl
import tempfile
from dataclasses import dataclass
from pathlib import Path

from refundgate.domain.secret import Secret

__all__ = ["ClientCertificate", "tls_context"]


@dataclass(frozen=True, slots=True)
class ClientCertificate:
    """The merchant API certificate and its private key, as PEM."""

    cert_pem: str
    key_pem: Secret

    @classmethod
    def from_files(cls, cert_path: Path, key_path: Path) -> ClientCertificate:
        return cls(cert_path.read_text("ascii"), Secret(key_path.read_text("ascii")))


def tls_context(client_cert: ClientCertificate | None, trust_pem: str | None) -> ssl.SSLContext:
    """Verify the server (against ``trust_pem`` alone when given, else the system's
    roots) and present ``client_cert`` when asked."""
    context = ssl.create_default_context(cadata=trust_pem) if trust_pem else (
        ssl.create_default_context()
    )  # fmt: skip
    if client_cert is not None:
        # ssl loads a key only from a file: it lives in a private temporary
        # directory (mode 0700) for the moment of loading.
        with tempfile.TemporaryDirectory(prefix="refundgate-wx-") as folder:
            cert_file, key_file = Path(folder, "cert.pem"), Path(folder, "key.pem")
            cert_file.write_text(client_cert.cert_pem, "ascii")
            key_file.touch(mode=0o600)
            key_file.write_text(client_cert.key_pem.reveal(), "ascii")
            context.load_cert_chain(cert_file, key_file)
    return context

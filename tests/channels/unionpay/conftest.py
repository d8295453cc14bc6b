"""A sandbox UnionPay PKI made once per run (RSA key generation is the slow part)."""

from __future__ import annotations

import pytest

from refundgate.sandbox.unionpay.pki import SandboxPki

MER_ID = "777290058110048"


@pytest.fixture(scope="session")
def pki() -> SandboxPki:
    return SandboxPki.generate(MER_ID)

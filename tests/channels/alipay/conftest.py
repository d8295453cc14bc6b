"""Key pairs made once per run: RSA key generation is the slow part of these tests."""

from __future__ import annotations

import pytest

from tests.channels.alipay.support import KeyPair, new_pair


@pytest.fixture(scope="session")
def app_keys() -> KeyPair:
    return new_pair()


@pytest.fixture(scope="session")
def alipay_keys() -> KeyPair:
    return new_pair()


@pytest.fixture(scope="session")
def stranger_keys() -> KeyPair:
    return new_pair()

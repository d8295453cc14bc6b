"""The SDK's public surface: its names, its docs, its settings, and what it imports."""

from __future__ import annotations

import doctest
import subprocess
import sys
from decimal import Decimal
from types import ModuleType

import pytest

import refundgate.client
from refundgate.client import (
    ENVIRONMENT,
    AsyncRefundClient,
    ConfigurationError,
    RefundClient,
    RefundGateError,
    amounts,
    notifications,
    results,
    retries,
)

SERVER_SIDE = (
    "refundgate.api",
    "refundgate.bootstrap",
    "refundgate.channels",
    "refundgate.cli",
    "refundgate.config",
    "refundgate.domain",
    "refundgate.ports",
    "refundgate.sandbox",
    "refundgate.service",
    "refundgate.store",
    "refundgate.system",
)
HEAVY = ("alembic", "asyncpg", "click", "sqlalchemy", "structlog", "uvicorn")


def test_the_public_names_are_pinned() -> None:
    assert refundgate.client.__all__ == [
        "CODE_CLASSES",
        "ENVIRONMENT",
        "AmountTypeError",
        "AsyncRefundClient",
        "AuthenticationError",
        "ConfigurationError",
        "ConnectionFailed",
        "GatewayUnavailable",
        "InvalidAmount",
        "InvalidNotification",
        "InvalidRequest",
        "OutcomeUnknown",
        "Refund",
        "RefundClient",
        "RefundGateError",
        "RefundNotFound",
        "RefundNumberConflict",
        "RefundRefused",
        "RefundRejected",
        "RefundStatus",
        "RetryPolicy",
        "SignatureError",
        "from_cents",
        "parse_notification",
        "to_cents",
    ]
    assert all(hasattr(refundgate.client, name) for name in refundgate.client.__all__)


def test_the_tree_in_the_docstring_names_every_error_class() -> None:
    errors = [
        name
        for name in refundgate.client.__all__
        if isinstance(getattr(refundgate.client, name), type)
        and issubclass(getattr(refundgate.client, name), RefundGateError)
    ]
    doc = refundgate.client.__doc__ or ""
    tree = doc[doc.index("Errors, one tree") :]

    assert len(errors) == 15
    assert all(f" {name} " in tree or f"    {name}" in tree for name in errors), errors


@pytest.mark.parametrize(
    "module", [amounts, results, retries, notifications], ids=lambda module: module.__name__
)
def test_the_docstring_examples_run(module: ModuleType) -> None:
    outcome = doctest.testmod(module, optionflags=doctest.ELLIPSIS)

    assert outcome.attempted > 0
    assert outcome.failed == 0


@pytest.mark.parametrize("cls", [RefundClient, AsyncRefundClient])
def test_the_key_never_shows_in_a_repr(cls: type[RefundClient]) -> None:
    client = cls(
        base_url="http://gateway.test", mch_id="10000576", key="SECRET-KEY-1", login_name="v"
    )

    assert "SECRET-KEY-1" not in repr(client)
    assert "SECRET-KEY-1" not in repr(client._settings)
    assert "10000576" in repr(client)


def test_from_env_reads_the_documented_variables() -> None:
    env = {
        "REFUNDGATE_BASE_URL": "https://refunds.example.com/",
        "REFUNDGATE_MCH_ID": "10000576",
        "REFUNDGATE_KEY": "TESTKEY123",
        "REFUNDGATE_LOGIN_NAME": "vincent",
        "REFUNDGATE_CLIENT_IP": "203.0.113.7",
        "REFUNDGATE_TIMEOUT": "12.5",
    }

    client = RefundClient.from_env(env)

    settings = client._settings
    assert (settings.base_url, settings.mch_id, settings.key, settings.login_name) == (
        "https://refunds.example.com",
        "10000576",
        "TESTKEY123",
        "vincent",
    )
    assert settings.client_ip == "203.0.113.7"
    assert client._http.timeout.read == 12.5
    assert set(env) == set(ENVIRONMENT)


@pytest.mark.parametrize("missing", ["REFUNDGATE_BASE_URL", "REFUNDGATE_MCH_ID", "REFUNDGATE_KEY"])
def test_from_env_names_a_missing_variable(missing: str) -> None:
    env = {
        "REFUNDGATE_BASE_URL": "http://127.0.0.1:8080",
        "REFUNDGATE_MCH_ID": "10000576",
        "REFUNDGATE_KEY": "TESTKEY123",
    }
    del env[missing]

    with pytest.raises(ConfigurationError, match=missing):
        AsyncRefundClient.from_env(env)


def test_from_env_refuses_a_nonsense_timeout() -> None:
    env = {
        "REFUNDGATE_BASE_URL": "http://127.0.0.1:8080",
        "REFUNDGATE_MCH_ID": "10000576",
        "REFUNDGATE_KEY": "TESTKEY123",
        "REFUNDGATE_TIMEOUT": "soon",
    }

    with pytest.raises(ConfigurationError, match="REFUNDGATE_TIMEOUT"):
        RefundClient.from_env(env)


def test_importing_the_sdk_loads_nothing_of_the_server() -> None:
    # httpx itself imports click for its own command line when click is there,
    # so the heavy packages are made unimportable first (test_live.py then
    # refunds in such a process).
    script = (
        "import sys\n"
        f"for name in {HEAVY!r}: sys.modules[name] = None\n"
        "import refundgate.client\n"
        "print('\\n'.join(sorted(n for n, m in sys.modules.items() if m is not None)))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=60
    )

    loaded = set(result.stdout.split())
    assert "httpx" in loaded
    assert not {
        module
        for module in loaded
        if module.split(".")[0] in HEAVY
        or any(module == name or module.startswith(f"{name}.") for name in SERVER_SIDE)
    }


def test_a_refund_amount_reads_back_in_major_units() -> None:
    assert refundgate.client.from_cents(1999, "CAD") == Decimal("19.99")
    assert refundgate.client.to_cents("19.99") == 1999

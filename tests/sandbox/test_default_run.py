"""The default run's rules: outcome scripts, where the state lives, and accounts that
exist only while no real one is stored."""

from __future__ import annotations

from pathlib import Path

from refundgate.domain.channels import ChannelFamily
from refundgate.domain.model import SandboxOutcome
from refundgate.domain.secret import Secret
from refundgate.ports import ChannelAccount
from refundgate.sandbox.default_run import (
    NEVER_S,
    SCRIPTS,
    SandboxAccounts,
    is_default_run,
    sandbox_accounts,
    state_path,
)
from refundgate.sandbox.simulator import Fault


def test_each_sandbox_outcome_is_a_fault_script() -> None:
    assert set(SCRIPTS) == set(SandboxOutcome)
    assert SCRIPTS[SandboxOutcome.SUCCEED].fault is None
    assert SCRIPTS[SandboxOutcome.SUCCEED].settle_delay is None
    assert SCRIPTS[SandboxOutcome.PROCESSING].fault is None
    assert 0 < (SCRIPTS[SandboxOutcome.PROCESSING].settle_delay or 0) < 60
    assert SCRIPTS[SandboxOutcome.FAIL].fault is Fault.REJECT
    assert SCRIPTS[SandboxOutcome.TIMEOUT].fault is Fault.TIMEOUT
    assert SCRIPTS[SandboxOutcome.TIMEOUT].settle_delay == NEVER_S


def test_the_state_file_sits_beside_the_sqlite_file_unless_named() -> None:
    assert state_path("sqlite:///refundgate.db", {}) == Path("refundgate.sandbox.json")
    assert state_path("sqlite:////srv/x/gw.db", {}) == Path("/srv/x/gw.sandbox.json")
    named = {"REFUNDGATE_SANDBOX_STATE": "/tmp/s.json"}
    assert state_path("sqlite:///refundgate.db", named) == Path("/tmp/s.json")
    assert state_path("postgresql://u@h/db", {}) is None


class Accounts:
    def __init__(self, stored: list[ChannelAccount]) -> None:
        self.stored = stored

    async def channel_accounts(self) -> list[ChannelAccount]:
        return list(self.stored)

    async def channel_account(self, mch_id: str, family: ChannelFamily) -> ChannelAccount | None:
        return None

    async def set_channel_account(self, account: ChannelAccount) -> None:
        self.stored.append(account)


def _account(mch_id: str | None) -> ChannelAccount:
    return ChannelAccount(mch_id, ChannelFamily.ALIPAY, Secret("{}"), updated_at=1)


async def test_sandbox_accounts_serve_only_while_no_account_is_stored() -> None:
    store = Accounts([])
    sandbox = [_account("10000001")]
    accounts = SandboxAccounts(store, sandbox)

    assert await accounts.channel_accounts() == sandbox

    await accounts.set_channel_account(_account(None))  # production configured

    assert await accounts.channel_accounts() == [_account(None)]


def test_without_serve_s_variables_there_are_no_sandbox_accounts() -> None:
    assert sandbox_accounts(Accounts([]), {}) is None
    assert sandbox_accounts(Accounts([]), {"REFUNDGATE_SANDBOX_URL": "http://x"}) is None


class Store(Accounts):
    def __init__(self, merchants: list[str], stored: list[ChannelAccount]) -> None:
        super().__init__(stored)
        self.merchants = merchants

    async def merchant_count(self) -> int:
        return len(self.merchants)

    async def access(self, mch_id: str, login_name: str | None) -> object | None:
        return object() if mch_id in self.merchants else None


async def test_simulators_run_for_the_demo_only_while_no_account_is_stored() -> None:
    assert await is_default_run(Store([], [])) == (True, True)  # type: ignore[arg-type]
    assert await is_default_run(Store(["10000001"], [])) == (True, False)  # type: ignore[arg-type]
    configured = Store(["10000001"], [_account(None)])
    assert await is_default_run(configured) == (False, False)  # type: ignore[arg-type]
    assert await is_default_run(Store(["M1"], [])) == (False, False)  # type: ignore[arg-type]

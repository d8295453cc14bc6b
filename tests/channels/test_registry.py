"""The registry: the merchant's account, else the default, else the sandbox; cached."""

from __future__ import annotations

import json

import pytest

from refundgate.channels.alipay import AlipayConnector
from refundgate.channels.registry import AccountRegistry, build_connector
from refundgate.domain.channels import ChannelFamily
from refundgate.domain.secret import Secret
from refundgate.ports import ChannelAccount, ChannelRegistry, StoreError
from refundgate.sandbox import SandboxLedger, sandbox_channels
from refundgate.sandbox.alipay.simulator import AlipaySimulator

ALIPAY, WECHAT = ChannelFamily.ALIPAY, ChannelFamily.WECHAT
CREDS = AlipaySimulator().credentials()


def alipay(mch_id: str | None, at: int = 1, **extra: str) -> ChannelAccount:
    fields = {**CREDS, "base_url": "http://sim.test/alipay/gateway.do", **extra}
    return ChannelAccount(mch_id, ALIPAY, Secret(json.dumps(fields)), at)


class Accounts:
    """A fake account source that counts its loads."""

    def __init__(self, *accounts: ChannelAccount) -> None:
        self.accounts = list(accounts)
        self.loads = 0
        self.down = False

    async def channel_accounts(self) -> list[ChannelAccount]:
        self.loads += 1
        if self.down:
            raise StoreError("down")
        return list(self.accounts)


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def sandbox() -> ChannelRegistry:
    return sandbox_channels(SandboxLedger())


async def test_without_accounts_the_sandbox_serves(sandbox: ChannelRegistry) -> None:
    registry = AccountRegistry(Accounts(), sandbox)  # type: ignore[arg-type]
    assert await registry.connector("M1", ALIPAY) is sandbox[ALIPAY]


async def test_own_account_wins_then_default_then_sandbox(sandbox: ChannelRegistry) -> None:
    registry = AccountRegistry(Accounts(alipay("M1"), alipay(None)), sandbox)  # type: ignore[arg-type]
    own, other = await registry.connector("M1", ALIPAY), await registry.connector("M2", ALIPAY)
    assert isinstance(own, AlipayConnector)
    assert isinstance(other, AlipayConnector)
    assert own is not other
    assert await registry.connector("M1", WECHAT) is sandbox[WECHAT]
    await registry.aclose()


async def test_accounts_load_once_per_ttl_and_connectors_are_kept(sandbox: ChannelRegistry) -> None:
    accounts, clock = Accounts(alipay(None)), Clock()
    registry = AccountRegistry(accounts, sandbox, ttl_s=5, monotonic=clock)  # type: ignore[arg-type]
    first = await registry.connector("M1", ALIPAY)
    for _ in range(10):
        assert await registry.connector("M1", ALIPAY) is first
    assert accounts.loads == 1

    accounts.accounts = [alipay(None, at=2)]
    clock.now = 6
    rebuilt = await registry.connector("M1", ALIPAY)
    assert rebuilt is not first
    assert accounts.loads == 2
    await registry.aclose()


async def test_a_store_outage_keeps_the_accounts_already_loaded(sandbox: ChannelRegistry) -> None:
    accounts, clock = Accounts(alipay(None)), Clock()
    registry = AccountRegistry(accounts, sandbox, ttl_s=5, monotonic=clock)  # type: ignore[arg-type]
    first = await registry.connector("M1", ALIPAY)
    accounts.down, clock.now = True, 10
    assert await registry.connector("M1", ALIPAY) is first
    await registry.aclose()


@pytest.mark.parametrize(
    "credentials",
    ["not json", "[]", '{"app_id": 1}', json.dumps({**CREDS, "app_private_key_pem": "xx"})],
)
def test_unusable_credentials_are_a_value_error_without_the_secret(credentials: str) -> None:
    account = ChannelAccount(None, ALIPAY, Secret(credentials), 1)
    with pytest.raises(ValueError, match=r"alipay|JSON|object") as caught:
        build_connector(account)
    assert "PRIVATE" not in str(caught.value)


async def test_a_broken_account_does_not_hide_the_others_callbacks(
    sandbox: ChannelRegistry,
) -> None:
    from refundgate.sandbox.unionpay.simulator import UnionPaySimulator

    fields = {**UnionPaySimulator().credentials(), "notify_url": "http://gw.test/n"}
    good = ChannelAccount(None, ChannelFamily.UNIONPAY, Secret(json.dumps(fields)), 1)
    broken = ChannelAccount("M1", ChannelFamily.UNIONPAY, Secret("{}"), 1)
    registry = AccountRegistry(Accounts(good, broken), sandbox)  # type: ignore[arg-type]
    parsers = await registry.callback_parsers(ChannelFamily.UNIONPAY)
    assert [owner for owner, _ in parsers] == [None]
    await registry.aclose()

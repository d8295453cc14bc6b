"""Channel accounts, on SQLite and PostgreSQL alike: a merchant's own, else the default."""

from __future__ import annotations

import pytest

from refundgate.domain.channels import ChannelFamily
from refundgate.domain.errors import MerchantNotFound
from refundgate.domain.secret import Secret
from refundgate.ports import AdminStore, ChannelAccount
from tests.backends import Backend
from tests.conftest import MCH_ID, OTHER_MCH_ID, seed_merchants

WECHAT, ALIPAY = ChannelFamily.WECHAT, ChannelFamily.ALIPAY


def account(mch_id: str | None, family: ChannelFamily, text: str, at: int = 1) -> ChannelAccount:
    return ChannelAccount(mch_id, family, Secret(text), at)


@pytest.fixture
async def store(any_store: AdminStore) -> AdminStore:
    await seed_merchants(any_store)
    return any_store


async def test_no_account_at_all_is_none(store: AdminStore) -> None:
    assert await store.channel_account(MCH_ID, WECHAT) is None
    assert await store.channel_accounts() == []


async def test_the_default_serves_merchants_without_their_own(store: AdminStore) -> None:
    await store.set_channel_account(account(None, WECHAT, '{"k": "default"}'))
    found = await store.channel_account(MCH_ID, WECHAT)
    assert found == account(None, WECHAT, '{"k": "default"}')
    assert await store.channel_account(MCH_ID, ALIPAY) is None


async def test_a_merchants_own_account_wins_over_the_default(store: AdminStore) -> None:
    await store.set_channel_account(account(None, WECHAT, '{"k": "default"}'))
    await store.set_channel_account(account(MCH_ID, WECHAT, '{"k": "own"}'))
    assert await store.channel_account(MCH_ID, WECHAT) == account(MCH_ID, WECHAT, '{"k": "own"}')
    other = await store.channel_account(OTHER_MCH_ID, WECHAT)
    assert other is not None
    assert other.mch_id is None


async def test_setting_again_replaces_the_credentials_and_time(store: AdminStore) -> None:
    await store.set_channel_account(account(MCH_ID, ALIPAY, '{"v": 1}', at=1))
    await store.set_channel_account(account(MCH_ID, ALIPAY, '{"v": 2}', at=2))
    assert await store.channel_accounts() == [account(MCH_ID, ALIPAY, '{"v": 2}', at=2)]


async def test_list_names_every_account_in_order(store: AdminStore) -> None:
    await store.set_channel_account(account(MCH_ID, WECHAT, "{}"))
    await store.set_channel_account(account(None, ALIPAY, "{}"))
    await store.set_channel_account(account(MCH_ID, ALIPAY, "{}"))
    listed = [(found.mch_id, found.family) for found in await store.channel_accounts()]
    assert listed == [(None, ALIPAY), (MCH_ID, ALIPAY), (MCH_ID, WECHAT)]


async def test_an_unknown_merchant_is_refused_and_nothing_stored(
    store: AdminStore, backend: Backend
) -> None:
    before = await backend.snapshot()
    with pytest.raises(MerchantNotFound):
        await store.set_channel_account(account("NOBODY", WECHAT, '{"k": "x"}'))
    assert await backend.snapshot() == before


async def test_credentials_never_show_in_a_repr(store: AdminStore) -> None:
    await store.set_channel_account(account(MCH_ID, WECHAT, '{"api_key": "TOPSECRET"}'))
    found = await store.channel_account(MCH_ID, WECHAT)
    assert "TOPSECRET" not in repr(found)

"""Connectors built from channel accounts, per merchant, cached per account version.

An account's credentials are a JSON object (see :data:`REQUIRED`); this module
is the one place that turns one into a connector. :class:`AccountRegistry`
resolves the connector of a refund: the merchant's own account, else the
gateway default, else the fallback (the in-process sandbox channel).

The hot path makes no query: the accounts are loaded once and reloaded at most
every ``ttl_s`` seconds (one ``SELECT`` of a small table per process per TTL),
so a ``channel-account set`` reaches running gateways within the TTL. A
connector is rebuilt only when its account's ``updated_at`` changes.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable, Mapping
from typing import Any

import httpx
import structlog

from refundgate.channels.alipay import AlipayConnector, AlipayCredentials
from refundgate.channels.records import keep_alipay, keep_unionpay, keep_wechat
from refundgate.channels.unionpay import UnionPayConnector, UnionPayCredentials
from refundgate.channels.wechat import (
    ClientCertificate,
    SignType,
    WeChatConnector,
    WeChatCredentials,
)
from refundgate.domain.channels import ChannelFamily
from refundgate.domain.secret import Secret
from refundgate.ports import (
    CallbackParser,
    ChannelAccount,
    ChannelAccounts,
    ChannelConnector,
    ChannelRegistry,
    StoreError,
)

__all__ = ["DEFAULT_BASE_URLS", "OPTIONAL", "REQUIRED", "AccountRegistry", "build_connector"]

_log = structlog.get_logger("refundgate.channels")

#: The fields each family's credentials must have.
REQUIRED: Mapping[ChannelFamily, tuple[str, ...]] = {
    ChannelFamily.WECHAT: ("appid", "mch_id", "api_key", "cert_pem", "key_pem"),
    ChannelFamily.ALIPAY: ("app_id", "app_private_key_pem", "alipay_public_key_pem"),
    ChannelFamily.UNIONPAY: (
        "mer_id", "sign_key_pem", "sign_cert_pem", "verify_cert_pem", "notify_url",
    ),
}  # fmt: skip

#: The fields each family may have besides (``base_url`` for every one).
OPTIONAL: Mapping[ChannelFamily, tuple[str, ...]] = {
    ChannelFamily.WECHAT: ("base_url", "notify_url", "ca_pem", "sign_type"),
    ChannelFamily.ALIPAY: ("base_url",),
    ChannelFamily.UNIONPAY: ("base_url", "verify_identity"),
}

#: Production endpoints (channels.md), used when an account names none.
DEFAULT_BASE_URLS: Mapping[ChannelFamily, str] = {
    ChannelFamily.WECHAT: "https://api.mch.weixin.qq.com/",
    ChannelFamily.ALIPAY: "https://openapi.alipay.com/gateway.do",
    ChannelFamily.UNIONPAY: "https://gateway.95516.com",
}

Fields = Mapping[str, str]
Transport = httpx.AsyncBaseTransport | None


def _wechat(fields: Fields, timeout_s: float, transport: Transport) -> WeChatConnector:
    credentials = WeChatCredentials(
        fields["appid"],
        fields["mch_id"],
        Secret(fields["api_key"]),
        ClientCertificate(fields["cert_pem"], Secret(fields["key_pem"])),
    )
    return WeChatConnector(
        credentials,
        base_url=fields.get("base_url") or DEFAULT_BASE_URLS[ChannelFamily.WECHAT],
        notify_url=fields.get("notify_url"),
        trust_pem=fields.get("ca_pem"),
        sign_type=SignType(fields.get("sign_type") or SignType.MD5.value),
        timeout_s=timeout_s,
        transport=transport,
        on_exchange=keep_wechat,
    )


def _alipay(fields: Fields, timeout_s: float, transport: Transport) -> AlipayConnector:
    credentials = AlipayCredentials(
        fields["app_id"], Secret(fields["app_private_key_pem"]), fields["alipay_public_key_pem"]
    )
    url = fields.get("base_url") or DEFAULT_BASE_URLS[ChannelFamily.ALIPAY]
    return AlipayConnector(
        credentials,
        gateway_url=url,
        timeout_s=timeout_s,
        transport=transport,
        on_exchange=keep_alipay,
    )


def _unionpay(fields: Fields, timeout_s: float, transport: Transport) -> UnionPayConnector:
    return UnionPayConnector(
        UnionPayCredentials.from_mapping(fields),
        base_url=fields.get("base_url") or DEFAULT_BASE_URLS[ChannelFamily.UNIONPAY],
        back_url=fields["notify_url"],
        timeout_s=timeout_s,
        transport=transport,
        recorder=keep_unionpay,
    )


_BUILDERS: Mapping[ChannelFamily, Callable[[Fields, float, Transport], Any]] = {
    ChannelFamily.WECHAT: _wechat,
    ChannelFamily.ALIPAY: _alipay,
    ChannelFamily.UNIONPAY: _unionpay,
}


def _fields(account: ChannelAccount) -> dict[str, str]:
    try:
        data = json.loads(account.credentials.reveal())
    except ValueError:
        raise ValueError("the credentials are not JSON") from None
    if not isinstance(data, dict) or not all(isinstance(v, str) for v in data.values()):
        raise ValueError("the credentials must be a JSON object of strings")
    missing = [name for name in REQUIRED[account.family] if not data.get(name)]
    if missing:
        raise ValueError(f"{account.family.value} credentials lack {', '.join(missing)}")
    return data


def build_connector(
    account: ChannelAccount, *, timeout_s: float = 10.0, transport: Transport = None
) -> ChannelConnector:
    """The connector of ``account``; ValueError (naming no secret) if it cannot be built.

    ``transport`` replaces the network (tests run the simulators in-process).
    """
    fields = _fields(account)
    try:
        connector: ChannelConnector = _BUILDERS[account.family](fields, timeout_s, transport)
    except Exception as exc:  # each key loader has its own errors; all mean "unusable"
        # Their messages may quote the input: say only which kind of failure.
        kind = type(exc).__name__
        raise ValueError(f"{account.family.value} credentials unusable ({kind})") from None
    return connector


_Key = tuple[str | None, ChannelFamily]


class AccountRegistry:
    """Resolves the connector of each merchant and family from the channel accounts."""

    def __init__(
        self,
        accounts: ChannelAccounts,
        fallback: ChannelRegistry,
        *,
        ttl_s: float = 5.0,
        timeout_s: float = 10.0,
        monotonic: Callable[[], float] = time.monotonic,
        transport: Transport = None,
    ) -> None:
        self._transport = transport
        self._accounts = accounts
        self._fallback = fallback
        self._ttl_s = ttl_s
        self._timeout_s = timeout_s
        self._monotonic = monotonic
        self._loaded: dict[_Key, ChannelAccount] = {}
        self._loaded_at: float | None = None
        self._lock = asyncio.Lock()
        self._built: dict[_Key, tuple[int, ChannelConnector]] = {}
        self._retired: list[ChannelConnector] = []

    async def connector(self, mch_id: str, family: ChannelFamily) -> ChannelConnector:
        """The merchant's connector, else the default's, else the fallback's."""
        await self._refresh()
        for key in ((mch_id, family), (None, family)):
            account = self._loaded.get(key)
            if account is not None:
                return self._connector_of(key, account)
        return self._fallback[family]

    async def callback_parsers(
        self, family: ChannelFamily
    ) -> list[tuple[str | None, CallbackParser]]:
        """The connectors of every account of ``family`` that can read callbacks,
        each with the merchant that owns the account (None: the default)."""
        await self._refresh()
        parsers = []
        for key, account in sorted(self._loaded.items(), key=lambda item: str(item[0][0])):
            if key[1] is not family:
                continue
            try:
                connector = self._connector_of(key, account)
            except ValueError as exc:  # one broken account must not silence the others
                _log.error("channel_account_unusable", mch_id=key[0], error=str(exc))
                continue
            if hasattr(connector, "parse_callback"):
                parsers.append((key[0], connector))
        return parsers  # type: ignore[return-value]

    async def aclose(self) -> None:
        """Close every connector this registry built."""
        closing = [connector for _, connector in self._built.values()] + self._retired
        self._built, self._retired = {}, []
        for connector in closing:
            await connector.aclose()  # type: ignore[attr-defined]

    def _connector_of(self, key: _Key, account: ChannelAccount) -> ChannelConnector:
        built = self._built.get(key)
        if built is not None and built[0] == account.updated_at:
            return built[1]
        connector = build_connector(account, timeout_s=self._timeout_s, transport=self._transport)
        if built is not None:
            # A refund may still be in flight on the old one: close it at shutdown.
            self._retired.append(built[1])
        self._built[key] = (account.updated_at, connector)
        return connector

    async def _refresh(self) -> None:
        now = self._monotonic()
        if self._loaded_at is not None and now - self._loaded_at < self._ttl_s:
            return
        async with self._lock:
            if self._loaded_at is not None and self._monotonic() - self._loaded_at < self._ttl_s:
                return
            try:
                accounts = await self._accounts.channel_accounts()
            except StoreError as exc:
                # Keep serving with what we had; the next call tries again.
                _log.warning("channel_accounts_not_loaded", error=str(exc))
                return
            self._loaded = {(a.mch_id, a.family): a for a in accounts}
            self._loaded_at = self._monotonic()

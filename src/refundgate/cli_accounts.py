"""``refundgate channel-account``: upstream credentials per merchant, or the default.

Keys and certificates are read from files, never from the command line (where
``ps`` and shell history would keep them), and are never printed: ``list``
shows who has an account for which channel and its public identifiers only.
An account is checked by building its connector before it is stored, so a
wrong key is refused with nothing changed.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path

import click

from refundgate.channels.registry import REQUIRED, build_connector
from refundgate.cli_support import now_ms, settings_for, with_store
from refundgate.domain.channels import ChannelFamily
from refundgate.domain.secret import Secret
from refundgate.ports import AdminStore, ChannelAccount

__all__ = ["channel_account"]

#: option name → (family, credentials field, read from a file?).
_OPTIONS: Mapping[str, tuple[ChannelFamily, str, bool]] = {
    "appid": (ChannelFamily.WECHAT, "appid", False),
    "wechat_mch_id": (ChannelFamily.WECHAT, "mch_id", False),
    "api_key_file": (ChannelFamily.WECHAT, "api_key", True),
    "ca_file": (ChannelFamily.WECHAT, "ca_pem", True),
    "sign_type": (ChannelFamily.WECHAT, "sign_type", False),
    "app_id": (ChannelFamily.ALIPAY, "app_id", False),
    "private_key_file": (ChannelFamily.ALIPAY, "app_private_key_pem", True),
    "public_key_file": (ChannelFamily.ALIPAY, "alipay_public_key_pem", True),
    "mer_id": (ChannelFamily.UNIONPAY, "mer_id", False),
    "verify_cert_file": (ChannelFamily.UNIONPAY, "verify_cert_pem", True),
    "verify_identity": (ChannelFamily.UNIONPAY, "verify_identity", False),
}

#: Options two families share, by family: the field each one fills.
_SHARED: Mapping[str, Mapping[ChannelFamily, str]] = {
    "cert_file": {ChannelFamily.WECHAT: "cert_pem", ChannelFamily.UNIONPAY: "sign_cert_pem"},
    "key_file": {ChannelFamily.WECHAT: "key_pem", ChannelFamily.UNIONPAY: "sign_key_pem"},
}

#: Fields that identify an account without revealing anything: what ``list`` shows.
_PUBLIC = ("appid", "mch_id", "app_id", "mer_id", "base_url", "notify_url")


def _read(path: str, option: str) -> str:
    try:
        return Path(path).read_text("utf-8").strip()
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else "not UTF-8 text"
        raise click.UsageError(f"{_flag(option)}: cannot read {path}: {reason}") from None


def _is_mch_id(value: str) -> bool:
    """The protocol's mchId rule: 1-30 printable ASCII characters, no space."""
    return 0 < len(value) <= 30 and value.isascii() and value.isprintable() and " " not in value


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def _field_of(name: str, family: ChannelFamily) -> tuple[str | None, bool]:
    """The credentials field option ``name`` fills for ``family`` (None: not its option)."""
    if name in ("base_url", "notify_url"):
        return name, False
    if name in _SHARED:
        return _SHARED[name].get(family), True
    owner, field, is_file = _OPTIONS[name]
    return (field if owner is family else None), is_file


def _fields(family: ChannelFamily, options: Mapping[str, str | None]) -> dict[str, str]:
    fields: dict[str, str] = {}
    for name, value in options.items():
        if value is None:
            continue
        field, is_file = _field_of(name, family)
        if field is None:
            raise click.UsageError(f"{_flag(name)} does not apply to {family.value}")
        fields[field] = _read(value, name) if is_file else value
    missing = [field for field in REQUIRED[family] if field not in fields]
    if missing:
        raise click.UsageError(f"{family.value} needs {', '.join(missing)} (see --help)")
    return fields


@click.group("channel-account")
def channel_account() -> None:
    """Manage upstream channel accounts (WeChat Pay, Alipay, UnionPay)."""


@channel_account.command("set")
@click.option("--mch-id", default=None, help="The merchant this account is for.")
@click.option("--default", "is_default", is_flag=True, help="The gateway's default account.")
@click.option("--channel", required=True, type=click.Choice([f.value for f in ChannelFamily]))
@click.option("--base-url", default=None, help="The channel's API URL [default: production].")
@click.option("--notify-url", default=None, help="Our callback URL (WeChat, UnionPay).")
@click.option("--appid", default=None, help="WeChat: the appid.")
@click.option("--wechat-mch-id", default=None, help="WeChat: the WeChat Pay merchant id.")
@click.option("--api-key-file", default=None, help="WeChat: file holding the v2 API key.")
@click.option(
    "--cert-file",
    default=None,
    help="WeChat: API client certificate; UnionPay: signing certificate (PEM).",
)
@click.option(
    "--key-file", default=None, help="WeChat: client certificate key; UnionPay: signing key (PEM)."
)
@click.option("--ca-file", default=None, help="WeChat: CA to trust for the API server (PEM).")
@click.option(
    "--sign-type", default=None, type=click.Choice(["MD5", "HMAC-SHA256"]), help="WeChat."
)
@click.option("--app-id", default=None, help="Alipay: the application id.")
@click.option("--private-key-file", default=None, help="Alipay: the application's private key.")
@click.option("--public-key-file", default=None, help="Alipay: Alipay's public key.")
@click.option("--mer-id", default=None, help="UnionPay: the merchant id (merId).")
@click.option("--verify-cert-file", default=None, help="UnionPay: root + middle certificates.")
@click.option("--verify-identity", default=None, help="UnionPay: signer CN identity.")
@click.option("--database-url", envvar="REFUNDGATE_DATABASE_URL", default=None)
@click.pass_context
def account_set(
    ctx: click.Context,
    /,
    mch_id: str | None,
    is_default: bool,
    channel: str,
    database_url: str | None,
    **options: str | None,
) -> None:
    """Set (add or replace) a channel account; keys and certificates come from files."""
    if (mch_id is None) == (not is_default):
        raise click.UsageError("give exactly one of --mch-id ID and --default")
    if mch_id is not None and not _is_mch_id(mch_id):
        raise click.BadParameter("must be 1-30 printable ASCII characters", param_hint="--mch-id")
    family = ChannelFamily(channel)
    fields = _fields(family, options)
    account = ChannelAccount(mch_id, family, Secret(json.dumps(fields)), now_ms())

    async def store_it(store: AdminStore) -> None:
        try:
            connector = build_connector(account)
        except ValueError as exc:
            raise click.ClickException(str(exc)) from None
        await connector.aclose()  # type: ignore[attr-defined]
        await store.set_channel_account(account)

    with_store(settings_for(ctx, database_url), store_it)
    click.echo(f"{family.value} account of {mch_id or 'the default'} set")


@channel_account.command("list")
@click.option("--database-url", envvar="REFUNDGATE_DATABASE_URL", default=None)
@click.pass_context
def account_list(ctx: click.Context, database_url: str | None) -> None:
    """Show which accounts exist, with their public identifiers (never a key)."""
    accounts: list[ChannelAccount] = with_store(
        settings_for(ctx, database_url), lambda store: store.channel_accounts()
    )
    if not accounts:
        click.echo("no channel accounts (refunds go to the sandbox channel)")
    for account in accounts:
        click.echo(_line(account))


def _line(account: ChannelAccount) -> str:
    fields = json.loads(account.credentials.reveal())
    shown = " ".join(f"{name}={fields[name]}" for name in _PUBLIC if name in fields)
    when = datetime.fromtimestamp(account.updated_at / 1000, UTC).isoformat(timespec="seconds")
    owner = account.mch_id if account.mch_id is not None else "(default)"
    return f"{owner:<16} {account.family.value:<9} updated {when}  {shown}".rstrip()

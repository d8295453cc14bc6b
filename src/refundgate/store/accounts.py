"""Channel accounts as rows: what both stores share (statements differ only in placeholders).

The default account is stored under ``mch_id = ''`` (:data:`DEFAULT_ACCOUNT`);
the credentials column holds the JSON text the registry reads.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from refundgate.domain.channels import ChannelFamily
from refundgate.domain.secret import Secret
from refundgate.ports import ChannelAccount
from refundgate.store.schema import DEFAULT_ACCOUNT

__all__ = [
    "ACCOUNT_COLUMNS",
    "account_from_row",
    "account_key",
    "account_values",
    "pick_account",
    "upsert_account",
]

ACCOUNT_COLUMNS = "mch_id, family, credentials, updated_at"


def upsert_account(source: str) -> str:
    """The INSERT … ON CONFLICT of one account; ``source`` gives its five values
    (``VALUES (…)`` or a ``SELECT … WHERE``), in the driver's placeholders."""
    return (
        "INSERT INTO channel_accounts (mch_id, family, credentials, created_at, updated_at)"
        f" {source} ON CONFLICT (mch_id, family) DO UPDATE SET"
        " credentials = excluded.credentials, updated_at = excluded.updated_at"
    )


def account_key(mch_id: str | None) -> str:
    """The stored ``mch_id`` of an account: the marker for the default one."""
    return DEFAULT_ACCOUNT if mch_id is None else mch_id


def account_values(account: ChannelAccount) -> tuple[str, str, str, int, int]:
    return (
        account_key(account.mch_id),
        account.family.value,
        account.credentials.reveal(),
        account.updated_at,
        account.updated_at,
    )


def account_from_row(row: Sequence[Any]) -> ChannelAccount:
    mch_id, family, credentials, updated_at = row
    return ChannelAccount(
        None if mch_id == DEFAULT_ACCOUNT else str(mch_id),
        ChannelFamily(family),
        Secret(str(credentials)),
        int(updated_at),
    )


def pick_account(rows: Sequence[Sequence[Any]]) -> ChannelAccount | None:
    """The merchant's own row if present, else the default's (rows of both, any order)."""
    ordered = sorted(rows, key=lambda row: row[0] == DEFAULT_ACCOUNT)
    return account_from_row(ordered[0]) if ordered else None

"""Settings, read from a mapping (the environment) by the composition root only."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

__all__ = ["DEFAULT_DATABASE_URL", "MAX_CHANNEL_TIMEOUT_S", "Settings"]

DEFAULT_DATABASE_URL = "sqlite:///refundgate.db"
MAX_CHANNEL_TIMEOUT_S = 300.0


MAX_DB_POOL_SIZE = 100


def _pool_size(text: str) -> int:
    # Each process holds its own pool; PostgreSQL's max_connections bounds the sum.
    if not (text.isdecimal() and 1 <= int(text) <= MAX_DB_POOL_SIZE):
        raise ValueError(f"REFUNDGATE_DB_POOL_SIZE must be 1..{MAX_DB_POOL_SIZE}: {text!r}")
    return int(text)


MAX_NOTIFY_TIMEOUT_S = 60.0


def _flag(name: str, text: str) -> bool:
    if text.lower() not in ("", "0", "1", "false", "true", "no", "yes"):
        raise ValueError(f"{name} must be true or false: {text!r}")
    return text.lower() in ("1", "true", "yes")


def _notify_timeout(text: str) -> float:
    # A short deadline: a merchant that does not answer is retried on the schedule.
    try:
        seconds = float(text)
    except ValueError:
        seconds = math.nan
    if not 0 < seconds <= MAX_NOTIFY_TIMEOUT_S:
        raise ValueError(
            f"REFUNDGATE_NOTIFY_TIMEOUT must be seconds in (0, {MAX_NOTIFY_TIMEOUT_S:g}]: {text!r}"
        )
    return seconds


@dataclass(frozen=True, slots=True)
class Settings:
    """Everything a gateway process is configured with.

    ``REFUNDGATE_DATABASE_URL``       where the data lives (default SQLite in the working folder)
    ``REFUNDGATE_CHANNEL_TIMEOUT``    seconds to wait for a channel's answer (default 10)
    ``REFUNDGATE_SANDBOX_LEDGER``     file to which sandbox channels append each call received
    ``REFUNDGATE_LOG_LEVEL``          debug, info, warning or error (default info)
    ``REFUNDGATE_DB_POOL_SIZE``       PostgreSQL connections per process (default 10)
    ``REFUNDGATE_NOTIFY_ALLOW_PRIVATE`` true: notifications may go to private, loopback and
                                      link-local addresses (default false; never to metadata)
    ``REFUNDGATE_NOTIFY_TIMEOUT``     seconds a merchant has to answer a notification (default 5)
    """

    database_url: str = DEFAULT_DATABASE_URL
    channel_timeout_s: float = 10.0
    sandbox_ledger: str | None = None
    log_level: str = "info"
    db_pool_size: int = 10
    notify_allow_private: bool = False
    notify_timeout_s: float = 5.0

    @classmethod
    def from_mapping(cls, env: Mapping[str, str]) -> Settings:
        timeout = env.get("REFUNDGATE_CHANNEL_TIMEOUT", "10")
        try:
            channel_timeout_s = float(timeout)
        except ValueError:
            channel_timeout_s = math.nan
        # A call needs time to be answered, and every call needs a deadline.
        if not 0 < channel_timeout_s <= MAX_CHANNEL_TIMEOUT_S:
            raise ValueError(
                f"REFUNDGATE_CHANNEL_TIMEOUT must be seconds in (0, {MAX_CHANNEL_TIMEOUT_S:g}]:"
                f" {timeout!r}"
            )
        return cls(
            db_pool_size=_pool_size(env.get("REFUNDGATE_DB_POOL_SIZE", "10")),
            database_url=env.get("REFUNDGATE_DATABASE_URL") or DEFAULT_DATABASE_URL,
            channel_timeout_s=channel_timeout_s,
            sandbox_ledger=env.get("REFUNDGATE_SANDBOX_LEDGER") or None,
            log_level=(env.get("REFUNDGATE_LOG_LEVEL") or "info").lower(),
            notify_allow_private=_flag(
                "REFUNDGATE_NOTIFY_ALLOW_PRIVATE", env.get("REFUNDGATE_NOTIFY_ALLOW_PRIVATE", "")
            ),
            notify_timeout_s=_notify_timeout(env.get("REFUNDGATE_NOTIFY_TIMEOUT", "5")),
        )

    def to_environment(self) -> dict[str, str]:
        """The variables that give another process these settings."""
        env = {
            "REFUNDGATE_DATABASE_URL": self.database_url,
            "REFUNDGATE_CHANNEL_TIMEOUT": str(self.channel_timeout_s),
            "REFUNDGATE_LOG_LEVEL": self.log_level,
            "REFUNDGATE_DB_POOL_SIZE": str(self.db_pool_size),
            "REFUNDGATE_NOTIFY_ALLOW_PRIVATE": "true" if self.notify_allow_private else "false",
            "REFUNDGATE_NOTIFY_TIMEOUT": str(self.notify_timeout_s),
        }
        if self.sandbox_ledger:
            env["REFUNDGATE_SANDBOX_LEDGER"] = self.sandbox_ledger
        return env

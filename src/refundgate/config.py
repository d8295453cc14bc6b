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


@dataclass(frozen=True, slots=True)
class Settings:
    """Everything a gateway process is configured with.

    ``REFUNDGATE_DATABASE_URL``       where the data lives (default SQLite in the working folder)
    ``REFUNDGATE_CHANNEL_TIMEOUT``    seconds to wait for a channel's answer (default 10)
    ``REFUNDGATE_SANDBOX_LEDGER``     file to which sandbox channels append each call received
    ``REFUNDGATE_LOG_LEVEL``          debug, info, warning or error (default info)
    ``REFUNDGATE_DB_POOL_SIZE``       PostgreSQL connections per process (default 10)
    """

    database_url: str = DEFAULT_DATABASE_URL
    channel_timeout_s: float = 10.0
    sandbox_ledger: str | None = None
    log_level: str = "info"
    db_pool_size: int = 10

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
        )

    def to_environment(self) -> dict[str, str]:
        """The variables that give another process these settings."""
        env = {
            "REFUNDGATE_DATABASE_URL": self.database_url,
            "REFUNDGATE_CHANNEL_TIMEOUT": str(self.channel_timeout_s),
            "REFUNDGATE_LOG_LEVEL": self.log_level,
            "REFUNDGATE_DB_POOL_SIZE": str(self.db_pool_size),
        }
        if self.sandbox_ledger:
            env["REFUNDGATE_SANDBOX_LEDGER"] = self.sandbox_ledger
        return env

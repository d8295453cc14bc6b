"""What every command group of the command line shares: the database option,
settings, and running work on a migrated store with one-line failures.

``refundgate.cli`` and the ``cli_*`` command groups import this module; it
imports none of them, so the command line has no import cycle.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import Any, TypeVar

import click
from sqlalchemy.engine import make_url

from refundgate.bootstrap import open_store
from refundgate.config import DEFAULT_DATABASE_URL, Settings
from refundgate.domain.errors import DomainError, MerchantNotFound
from refundgate.ports import AdminStore, StoreError
from refundgate.system import SystemClock

__all__ = [
    "database_option",
    "migrated",
    "now_ms",
    "settings_for",
    "shown",
    "with_store",
]

T = TypeVar("T")
F = TypeVar("F", bound=Callable[..., Any])


def database_option(command: F) -> F:
    """The ``--database-url`` option (or ``REFUNDGATE_DATABASE_URL``)."""
    return click.option(
        "--database-url",
        envvar="REFUNDGATE_DATABASE_URL",
        default=None,
        help=f"Database URL [default: {DEFAULT_DATABASE_URL}].",
    )(command)


def shown(database_url: str) -> str:
    """``database_url`` fit to print: a password in it is masked."""
    return make_url(database_url).render_as_string(hide_password=True)


def settings_for(ctx: click.Context, database_url: str | None) -> Settings:
    """Settings from the environment, with the database named on the command line."""
    try:
        settings = Settings.from_mapping(os.environ)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None
    url = database_url or ctx.find_root().params.get("database_url")
    return replace(settings, database_url=url) if url else settings


def with_store(settings: Settings, work: Callable[[AdminStore], Awaitable[T]]) -> T:
    """Open and migrate the store, run ``work``, and turn failures into one line."""

    async def run() -> T:
        try:
            store = open_store(settings.database_url, pool_size=settings.db_pool_size)
        except ValueError as exc:
            raise click.ClickException(str(exc)) from None
        try:
            await store.migrate()
            return await work(store)
        except MerchantNotFound as exc:
            raise click.ClickException(f"unknown merchant: {exc}") from None
        except DomainError as exc:
            raise click.ClickException(str(exc)) from None
        except StoreError as exc:
            raise click.ClickException(f"database unavailable: {exc}") from None
        finally:
            await store.close()

    return asyncio.run(run())


async def migrated(store: AdminStore) -> None:
    """Nothing more: :func:`with_store` has migrated the database."""


def now_ms() -> int:
    """The wall clock, in epoch milliseconds."""
    return SystemClock().now_ms()

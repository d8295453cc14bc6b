"""Bringing a database's schema up to date with the Alembic migrations."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config

__all__ = ["alembic_config", "sqlalchemy_url", "upgrade"]

_MIGRATIONS = Path(__file__).with_name("migrations")


def sqlalchemy_url(database_url: str) -> str:
    """``database_url`` naming the driver SQLAlchemy must use (asyncpg for PostgreSQL)."""
    for prefix in ("postgresql://", "postgres://"):
        if database_url.startswith(prefix):
            return "postgresql+asyncpg://" + database_url[len(prefix) :]
    return database_url


def alembic_config(database_url: str) -> Config:
    """An Alembic configuration for ``database_url``, without an ini file."""
    config = Config()
    config.set_main_option("script_location", str(_MIGRATIONS))
    config.set_main_option("sqlalchemy.url", sqlalchemy_url(database_url).replace("%", "%%"))
    return config


def upgrade(database_url: str) -> None:
    """Apply every migration the database lacks. Call it outside any event loop."""
    command.upgrade(alembic_config(database_url), "head")

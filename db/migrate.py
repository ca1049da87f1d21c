"""Apply the Alembic migrations programmatically (used by `gridcase migrate`, `up` and tests)."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def alembic_config(sqlalchemy_url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    # ConfigParser interpolation: a literal % in a password must be doubled.
    config.set_main_option("sqlalchemy.url", sqlalchemy_url.replace("%", "%%"))
    return config


def upgrade(sqlalchemy_url: str) -> None:
    """Blocking (env.py runs its own event loop): call it from a thread inside async code."""
    command.upgrade(alembic_config(sqlalchemy_url), "head")

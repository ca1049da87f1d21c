"""Managed PostgreSQL URLs carry libpq's sslmode: migrations and the engine accept them."""

from __future__ import annotations

import asyncio

from sqlalchemy import text

from core.config import Settings
from db.migrate import upgrade
from db.session import make_engine


async def test_a_database_url_with_sslmode_migrates_and_connects(settings: Settings) -> None:
    # The embedded server listens on a socket without TLS: `prefer` and `disable` both connect.
    for mode in ("prefer", "disable"):
        separator = "&" if "?" in (settings.database_url or "") else "?"
        managed = settings.model_copy(
            update={"database_url": f"{settings.database_url}{separator}sslmode={mode}"}
        )
        await asyncio.to_thread(upgrade, managed.sqlalchemy_url)
        engine = make_engine(managed, pool_size=1)
        try:
            async with engine.connect() as connection:
                assert await connection.scalar(text("SELECT version_num FROM alembic_version"))
        finally:
            await engine.dispose()

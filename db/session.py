"""Engine and sessions: made once per process (API lifespan, worker start-up), never per request."""

from __future__ import annotations

from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from core.config import Settings, asyncpg_connection


def make_engine(settings: Settings, pool_size: int = 10) -> AsyncEngine:
    url, tls = asyncpg_connection(settings.sqlalchemy_url)
    return create_async_engine(
        url,
        pool_size=pool_size,
        # No ping before each checkout: with asyncpg it is three round trips (BEGIN, a query,
        # ROLLBACK) per transaction, a tenth of a lifecycle's CPU in `make bench`. A connection
        # PostgreSQL dropped fails its one statement instead (the API answers 503, an activity
        # retries) and the pool then replaces every connection older than the failure.
        pool_pre_ping=False,
        # A failed statement's values (a resident's name and phone) stay out of the error's
        # text, and so out of logs and Temporal failures.
        hide_parameters=True,
        # Fail fast when PostgreSQL is unreachable, so the API can answer 503 instead of hanging.
        connect_args={"timeout": 5, "command_timeout": 30, **tls},
    )


def make_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)


def sqlstate_of(error: DBAPIError) -> str:
    """The SQLSTATE PostgreSQL gave a failed statement ("" when it gave none: a connection the
    client lost). SQLAlchemy's asyncpg adapter copies it from asyncpg's error, its cause."""
    for raised in (error.orig, getattr(error.orig, "__cause__", None)):
        code = getattr(raised, "sqlstate", None)
        if isinstance(code, str) and code:
            return code
    return ""

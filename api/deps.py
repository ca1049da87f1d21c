"""Dependencies: the DB session (one short transaction), the Temporal client, the settings."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.client import Client

from api.errors import Unavailable
from core.config import Settings


def get_sessions(request: Request) -> async_sessionmaker[AsyncSession]:
    sessions: async_sessionmaker[AsyncSession] = request.app.state.sessions
    return sessions


async def get_session(
    sessions: Annotated[async_sessionmaker[AsyncSession], Depends(get_sessions)],
) -> AsyncIterator[AsyncSession]:
    async with sessions.begin() as session:  # commits on success, rolls back on error
        yield session


def get_temporal(request: Request) -> Client:
    client: Client | None = request.app.state.temporal
    if client is None:  # still connecting (api/main.py): the client retries after Retry-After
        raise Unavailable("the workflow service is not connected yet, retry later")
    return client


def get_app_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


# For routes that only read PostgreSQL. `scope="function"` ends the transaction when the route
# returns, before the response starts, so a failed commit is an error answer, not a cut
# connection. A route that calls Temporal takes SessionsDep instead and opens its own short
# transactions around (never across) the call.
SessionDep = Annotated[AsyncSession, Depends(get_session, scope="function")]
SessionsDep = Annotated[async_sessionmaker[AsyncSession], Depends(get_sessions)]
TemporalDep = Annotated[Client, Depends(get_temporal)]
SettingsDep = Annotated[Settings, Depends(get_app_settings)]

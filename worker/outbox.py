"""The notification sender: delivers the outbox rows the case workflow's persistence activity
wrote, oldest first, and marks each one sent.

Each row is locked (SKIP LOCKED, so several workers never take the same row), sent and marked
in its own transaction. The notification id travels as the Idempotency-Key: if a worker dies
after sending and before committing, the row is sent again with the same key and the receiving
gateway drops the repeat. No row is lost: an unsent row stays until a sender succeeds.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime
from typing import Protocol

import httpx
from sqlalchemy import select
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from db.models import Notification

log = logging.getLogger("gridcase.outbox")


class Sender(Protocol):
    async def __call__(self, notification: Notification) -> None: ...


class LogSender:
    """The default when no gateway is configured: the worker's log is the delivery channel."""

    async def __call__(self, notification: Notification) -> None:
        log.info(
            "notify %s (%s): %s", notification.recipient, notification.kind, notification.message
        )


class WebhookSender:
    """POSTs each notification as JSON to a gateway (SMS, the city's messaging platform...)."""

    def __init__(self, url: str, timeout: float = 10.0) -> None:
        self._url = url
        self._http = httpx.AsyncClient(timeout=timeout)

    async def __call__(self, notification: Notification) -> None:
        response = await self._http.post(
            self._url,
            json={
                "id": notification.id,
                "case_id": notification.case_id,
                "recipient": notification.recipient,
                "kind": notification.kind,
                "message": notification.message,
            },
            headers={"Idempotency-Key": notification.id},
        )
        response.raise_for_status()

    async def aclose(self) -> None:
        await self._http.aclose()


async def deliver_pending(
    sessions: async_sessionmaker[AsyncSession], send: Sender, batch: int = 50
) -> int:
    """Deliver up to `batch` unsent notifications; return how many were sent. Rows that keep
    failing sort after fresh ones (by attempts), so one dead recipient blocks nobody."""
    async with sessions() as session:
        ids = list(
            await session.scalars(
                select(Notification.id)
                .where(Notification.sent_at.is_(None))
                .order_by(Notification.attempts, Notification.created_at, Notification.id)
                .limit(batch)
            )
        )
    sent = 0
    for id_ in ids:
        async with sessions.begin() as session:
            row = await session.scalar(
                select(Notification)
                .where(Notification.id == id_, Notification.sent_at.is_(None))
                .with_for_update(skip_locked=True)
            )
            if row is None:  # another sender has it, or sent it meanwhile
                continue
            row.attempts += 1
            try:
                await send(row)
            except (httpx.HTTPError, OSError) as failed:
                log.warning(
                    "notification %s not delivered (attempt %d): %s", row.id, row.attempts, failed
                )
                continue
            row.sent_at = datetime.now(UTC)
            sent += 1
    return sent


async def run_outbox(
    sessions: async_sessionmaker[AsyncSession], send: Sender, interval: float
) -> None:
    """Deliver for as long as the worker runs; idle polls every `interval` seconds."""
    while True:
        try:
            sent = await deliver_pending(sessions, send)
        except (DBAPIError, OSError) as down:
            log.warning("outbox: database unavailable: %s", down)
            sent = 0
        if sent == 0:
            await asyncio.sleep(interval)

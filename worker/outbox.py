"""The notification sender: delivers the outbox rows the case workflow's persistence activity
wrote, oldest first, and marks each one sent.

Each row is locked (SKIP LOCKED, so several workers never take the same row), sent and marked
in its own transaction. The notification id travels as the Idempotency-Key: if a worker dies
after sending and before committing, the row is sent again with the same key and the receiving
gateway drops the repeat. No row is lost: an unsent row stays until a sender succeeds, or
becomes a dead letter an operator can see (GET /v1/outbox/dead, gridcase_outbox_dead_letters):
at once when the gateway refuses it for good (a 4xx other than 408 and 429), or after
`max_attempts`. Between attempts a row waits a backoff that doubles up to a cap, so one dead
recipient neither spins the sender nor delays the others.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Protocol

import httpx
from sqlalchemy import func, or_, select
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from db.models import Notification

log = logging.getLogger("gridcase.outbox")


class Refused(Exception):
    """The gateway refused the notification for good: sending it again cannot help."""


# A 4xx is the gateway's final word, except a timeout or a rate limit.
_TRANSIENT_4XX = {408, 429}


@dataclass(frozen=True)
class Retries:
    """When to try a failed notification again, and when to give it up."""

    first_backoff: float = 1.0
    backoff_cap: float = 600.0
    max_attempts: int = 10

    def backoff(self, attempts: int) -> timedelta:
        return timedelta(seconds=min(self.backoff_cap, self.first_backoff * 2 ** (attempts - 1)))


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
        if 400 <= response.status_code < 500 and response.status_code not in _TRANSIENT_4XX:
            raise Refused(f"{response.status_code} {response.text[:200]}")
        response.raise_for_status()

    async def aclose(self) -> None:
        await self._http.aclose()


async def deliver_pending(
    sessions: async_sessionmaker[AsyncSession],
    send: Sender,
    batch: int = 50,
    retries: Retries = Retries(),
) -> int:
    """Deliver up to `batch` notifications that are due; return how many were sent. Rows that
    keep failing sort after fresh ones (by attempts), so one dead recipient blocks nobody."""
    due = (
        Notification.sent_at.is_(None),
        Notification.dead_at.is_(None),
        or_(Notification.next_attempt_at.is_(None), Notification.next_attempt_at <= func.now()),
    )
    async with sessions() as session:
        ids = list(
            await session.scalars(
                select(Notification.id)
                .where(*due)
                .order_by(Notification.attempts, Notification.created_at, Notification.id)
                .limit(batch)
            )
        )
    sent = 0
    for id_ in ids:
        async with sessions.begin() as session:
            row = await session.scalar(
                select(Notification)
                .where(Notification.id == id_, *due)
                .with_for_update(skip_locked=True)
            )
            if row is None:  # another sender has it, or sent it meanwhile
                continue
            row.attempts += 1
            try:
                await send(row)
            except (Refused, httpx.HTTPError, OSError) as failed:
                now = datetime.now(UTC)
                row.last_error = f"{type(failed).__name__}: {failed}"[:500]
                if isinstance(failed, Refused) or row.attempts >= retries.max_attempts:
                    row.dead_at = now
                    log.error("notification %s is a dead letter: %s", row.id, row.last_error)
                else:
                    row.next_attempt_at = now + retries.backoff(row.attempts)
                    log.warning(
                        "notification %s not delivered (attempt %d, next in %s): %s",
                        row.id,
                        row.attempts,
                        retries.backoff(row.attempts),
                        failed,
                    )
                continue
            row.sent_at = datetime.now(UTC)
            sent += 1
    return sent


async def run_outbox(
    sessions: async_sessionmaker[AsyncSession],
    send: Sender,
    interval: float,
    retries: Retries = Retries(),
) -> None:
    """Deliver for as long as the worker runs; idle polls every `interval` seconds."""
    while True:
        try:
            sent = await deliver_pending(sessions, send, retries=retries)
        except (DBAPIError, OSError) as down:
            log.warning("outbox: database unavailable: %s", down)
            sent = 0
        if sent == 0:
            await asyncio.sleep(interval)

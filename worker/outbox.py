"""The notification sender: delivers the outbox rows the case workflow's persistence activity
wrote, oldest first, through a gateway (worker/gateways.py), and marks each one sent. Each row
names a template and its parameters; the contact it must reach is read from PostgreSQL here, at
send time, so no phone number ever enters a workflow's history.

Each row is locked (SKIP LOCKED, so several workers never take the same row), sent and marked
in its own transaction. The notification id travels with it (the webhook's Idempotency-Key,
the SMS API's OutId): if a worker dies after sending and before committing, the row is sent
again with the same id. No row is lost: an unsent row stays until a sender succeeds, or becomes
a dead letter an operator can see (GET /v1/outbox/dead, gridcase_outbox_dead_letters): at once
when the gateway refuses it for good (`Undeliverable`), or after `max_attempts`. Between attempts a
row waits a backoff that doubles up to a cap, so one dead recipient neither spins the sender
nor delays the others.
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

from db.models import Case, Notification, Unit
from domain.common import reported_case
from worker.gateways import Deferred, Message, Undeliverable

log = logging.getLogger("gridcase.outbox")


@dataclass(frozen=True)
class Retries:
    """When to try a failed notification again, and when to give it up."""

    first_backoff: float = 1.0
    backoff_cap: float = 600.0
    max_attempts: int = 10

    def backoff(self, attempts: int) -> timedelta:
        return timedelta(seconds=min(self.backoff_cap, self.first_backoff * 2 ** (attempts - 1)))


class Send(Protocol):
    async def __call__(self, message: Message) -> None: ...


async def message_of(session: AsyncSession, row: Notification) -> Message:
    """The notification with the contact it must reach, read now: a reporter's phone and email
    from the case, a unit's duty phone from the reference data."""
    phone = email = None
    case_id = reported_case(row.recipient)
    if case_id is not None:
        found = (
            await session.execute(
                select(Case.reporter_phone, Case.reporter_email).where(Case.id == case_id)
            )
        ).first()
        if found is not None:
            phone, email = found
    else:
        phone = await session.scalar(select(Unit.duty_phone).where(Unit.code == row.recipient))
    return Message(
        id=row.id,
        case_id=row.case_id,
        recipient=row.recipient,
        kind=row.kind,
        params=dict(row.params),
        phone=phone,
        email=email,
    )


async def deliver_pending(
    sessions: async_sessionmaker[AsyncSession],
    send: Send,
    batch: int = 50,
    retries: Retries = Retries(),
) -> int:
    """Deliver up to `batch` notifications that are due; return how many were sent. Rows that
    keep failing sort after fresh ones (by attempts), so one dead recipient blocks nobody."""
    due = (
        Notification.unsent(),
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
                await send(await message_of(session, row))
            except (Undeliverable, Deferred, httpx.HTTPError, OSError) as failed:
                now = datetime.now(UTC)
                row.last_error = f"{type(failed).__name__}: {failed}"[:500]
                if isinstance(failed, Undeliverable) or row.attempts >= retries.max_attempts:
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
    send: Send,
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

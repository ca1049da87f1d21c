"""The case record activity's second call into governance: is the request just received a
repeat? Read from PostgreSQL in the activity, so the phone number never reaches Temporal; the
case is told only the earlier case ids and what they share."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.client import Client

from db import repeats
from domain.case import CaseRecord
from domain.repeat import REPEATED, RepeatRule


async def flag_repeats(
    client: Client,
    sessions: async_sessionmaker[AsyncSession],
    record: CaseRecord,
    rule: RepeatRule,
) -> None:
    if "received" not in {e.type for e in record.events}:
        return
    async with sessions() as session:
        repeat = await repeats.repeated(session, record.case.id, rule)
    if repeat is not None:  # the case marks it (once) and tells the ladder's first rung
        await client.get_workflow_handle(record.case.id).signal(REPEATED, repeat)

"""The notification outbox end to end: a case's actions write notifications with their events;
a sender delivers them to a real HTTP gateway; killing the sender mid-delivery and starting a
new one loses nothing and, with the gateway deduplicating by Idempotency-Key as gateways do,
delivers each notification exactly once."""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI, Request
from sqlalchemy import select

from db.models import Notification
from tests.conftest import eventually
from tests.integration.conftest import new_case, served
from worker.gateways import WebhookGateway
from worker.outbox import run_outbox


class Gateway:
    """A messaging gateway: accepts each Idempotency-Key once, acknowledges repeats."""

    def __init__(self) -> None:
        self.received: Counter[str] = Counter()
        self.delivered: list[dict[str, Any]] = []
        self.app = FastAPI()

        @self.app.post("/notify")
        async def notify(request: Request) -> dict[str, str]:
            key = request.headers["Idempotency-Key"]
            self.received[key] += 1
            if self.received[key] == 1:
                self.delivered.append(await request.json())
            await asyncio.sleep(0.02)  # a real gateway takes a moment: room for a crash
            return {"status": "accepted"}


@pytest.fixture
async def gateway() -> AsyncIterator[tuple[Gateway, str]]:
    gw = Gateway()
    async with served(gw.app) as url:
        yield gw, f"{url}/notify"


async def test_each_notification_is_delivered_once_across_a_sender_restart(
    api: httpx.AsyncClient, sessions: Any, gateway: tuple[Gateway, str]
) -> None:
    gw, url = gateway
    case = (await api.post("/v1/cases", json=new_case())).json()
    for n in range(6):
        urged = await api.post(f"/v1/cases/{case['id']}/urge", json={"note": f"第{n + 1}次催办"})
        assert urged.status_code == 200, urged.text
    escalated = await api.post(f"/v1/cases/{case['id']}/escalate", json={"reason": "久拖未签收"})
    assert escalated.json()["escalation_level"] == 1

    async def ids_of_case(sent: bool | None = None) -> set[str]:
        query = select(Notification.id).where(Notification.case_id == case["id"])
        if sent is not None:
            query = query.where(
                Notification.sent_at.is_not(None) if sent else Notification.sent_at.is_(None)
            )
        async with sessions() as session:
            return set(await session.scalars(query))

    expected = await ids_of_case()
    assert len(expected) == 8  # the dispatch and six urges to the unit, an escalation

    async def two_delivered() -> bool:
        return len(gw.delivered) >= 2

    async def all_sent() -> bool:
        return not await ids_of_case(sent=False)

    send = WebhookGateway(url, {})
    try:
        first = asyncio.create_task(run_outbox(sessions, send, interval=0.05))
        assert await eventually(two_delivered, within=20)
        first.cancel()  # the worker dies mid-delivery
        with contextlib.suppress(asyncio.CancelledError):
            await first
        assert await ids_of_case(sent=False), "the crash left work for the next sender"

        second = asyncio.create_task(run_outbox(sessions, send, interval=0.05))
        assert await eventually(all_sent, within=20)
        second.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await second
    finally:
        await send.aclose()

    delivered = [d["id"] for d in gw.delivered if d["case_id"] == case["id"]]
    assert sorted(delivered) == sorted(expected)  # every one, once
    repeats = sum(gw.received[i] - 1 for i in expected)
    assert repeats <= 1  # at most the one in flight when the sender died, dropped by its key
    assert {d["recipient"] for d in gw.delivered if d["case_id"] == case["id"]} == {
        case["unit"],
        "CO-C01",
    }

"""A notification the gateway refuses for good becomes a dead letter at once; one it cannot
take now waits a doubling backoff and dies after too many attempts. Operators see dead letters
(GET /v1/outbox/dead, the gridcase_outbox_dead_letters metric) and send them again."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from sqlalchemy import select, update

from db.models import Notification
from tests.integration.conftest import new_case, served
from worker.gateways import WebhookGateway
from worker.outbox import Retries, deliver_pending


class Gateway:
    """Takes every notification, except those of one case, which it answers with `answer`."""

    def __init__(self, case_id: str, answer: int) -> None:
        self.case_id, self.answer = case_id, answer
        self.taken: list[str] = []
        self.app = FastAPI()

        @self.app.post("/notify")
        async def notify(request: Request) -> JSONResponse:
            body = await request.json()
            if body["case_id"] == self.case_id and self.answer != 200:
                return JSONResponse({"error": "template not approved"}, self.answer)
            self.taken.append(body["id"])
            return JSONResponse({"status": "accepted"})


async def urged_case(api: httpx.AsyncClient) -> str:
    case = (await api.post("/v1/cases", json=new_case())).json()
    urged = await api.post(f"/v1/cases/{case['id']}/urge", json={"note": "请尽快签收"})
    assert urged.status_code == 200, urged.text
    return str(case["id"])


async def rows_of(sessions: Any, case_id: str) -> list[Notification]:
    """The case's urge (its dispatch notice goes the same way)."""
    async with sessions() as session:
        query = select(Notification).where(
            Notification.case_id == case_id, Notification.kind == "urge"
        )
        return list(await session.scalars(query))


async def test_a_refused_notification_is_a_dead_letter_an_operator_sends_again(
    api: httpx.AsyncClient, sessions: Any
) -> None:
    case_id = await urged_case(api)
    gateway = Gateway(case_id, answer=400)
    async with served(gateway.app) as url:
        send = WebhookGateway(f"{url}/notify", {})
        await deliver_pending(sessions, send, batch=500)
        [row] = await rows_of(sessions, case_id)
        assert row.dead_at is not None and row.sent_at is None
        assert row.attempts == 1 and "400" in (row.last_error or "")

        await deliver_pending(sessions, send, batch=500)  # a dead letter is not tried again
        assert (await rows_of(sessions, case_id))[0].attempts == 1

        dead = (await api.get("/v1/outbox/dead")).json()
        assert row.id in [d["id"] for d in dead]
        metrics = (await api.get("/metrics")).text
        found = re.search(r"^gridcase_outbox_dead_letters (\S+)$", metrics, re.M)
        assert found and float(found.group(1)) >= 1

        gateway.answer = 200  # the template got approved
        retried = await api.post(f"/v1/outbox/dead/{row.id}/retry")
        assert retried.json() == {"id": row.id, "status": "queued"}
        await deliver_pending(sessions, send, batch=500)
        await send.aclose()
    [row] = await rows_of(sessions, case_id)
    assert row.sent_at is not None and row.id in gateway.taken
    assert (await api.post(f"/v1/outbox/dead/{row.id}/retry")).status_code == 404


async def test_a_gateway_that_is_down_gets_a_doubling_backoff_then_a_dead_letter(
    api: httpx.AsyncClient, sessions: Any
) -> None:
    case_id = await urged_case(api)
    gateway = Gateway(case_id, answer=503)
    async with served(gateway.app) as url:
        send = WebhookGateway(f"{url}/notify", {})
        slow = Retries(first_backoff=60, backoff_cap=300, max_attempts=3)
        before = datetime.now(UTC)
        await deliver_pending(sessions, send, batch=500, retries=slow)
        [row] = await rows_of(sessions, case_id)
        assert row.dead_at is None and row.attempts == 1
        assert row.next_attempt_at is not None
        assert timedelta(seconds=59) < row.next_attempt_at - before < timedelta(seconds=70)
        await deliver_pending(sessions, send, batch=500, retries=slow)  # not due yet
        assert (await rows_of(sessions, case_id))[0].attempts == 1

        async with sessions.begin() as session:  # a minute later
            await session.execute(
                update(Notification)
                .where(Notification.case_id == case_id)
                .values(next_attempt_at=datetime.now(UTC))
            )
        hasty = Retries(first_backoff=0, backoff_cap=0, max_attempts=3)
        for _ in range(3):
            await deliver_pending(sessions, send, batch=500, retries=hasty)
        await send.aclose()
    [row] = await rows_of(sessions, case_id)
    assert row.attempts == 3 and row.dead_at is not None and "503" in (row.last_error or "")
    assert [Retries(1, 600, 10).backoff(n).total_seconds() for n in (1, 2, 3, 11)] == [
        1,
        2,
        4,
        600,
    ]

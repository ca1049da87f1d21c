"""The console's guards, over HTTP: the demo sign-in exists only on the laptop stack, the session
cookie is HttpOnly and SameSite=Strict, and a form without the session's CSRF token changes
nothing."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from temporalio.testing import WorkflowEnvironment

from api.main import create_app
from core.config import Settings
from tests.conftest import bearer, unique_queue
from tests.integration.conftest import app_settings, new_case
from worker.main import build_worker


@pytest.fixture
async def console(
    settings: Settings, dev_server: WorkflowEnvironment, sessions: Any
) -> AsyncIterator[httpx.AsyncClient]:
    """The app as deployed against external servers: no demo sign-in."""
    queue = unique_queue()
    app = create_app(app_settings(settings, dev_server, queue))
    async with (
        build_worker(dev_server.client, sessions, queue),
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client,
    ):
        yield client


def _nonce(page: str) -> str:
    found = re.search(r'name="nonce" value="([^"]+)"', page)
    assert found, page
    return found.group(1)


async def test_no_demo_identities_off_the_laptop_stack(console: httpx.AsyncClient) -> None:
    page = await console.get("/console/signin")
    assert page.status_code == 200 and 'data-testid="signin-identity"' not in page.text
    refused = await console.post(
        "/console/signin", data={"nonce": _nonce(page.text), "identity": "dispatcher"}
    )
    assert refused.status_code == 401 and "gridcase_session" not in refused.headers.get(
        "set-cookie", ""
    )


async def test_a_form_without_the_sessions_csrf_token_changes_nothing(
    console: httpx.AsyncClient,
) -> None:
    admin = bearer()
    case = (await console.post("/v1/cases", json=new_case(), headers=admin)).json()
    token = bearer("unit_handler", unit=case["unit"])["Authorization"].removeprefix("Bearer ")
    page = await console.get("/console/signin")
    signed = await console.post(
        "/console/signin", data={"nonce": _nonce(page.text), "token": token}
    )
    assert signed.status_code == 303
    cookie = signed.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie

    forged = await console.post(f"/console/cases/{case['id']}/act/accept", data={"csrf": "x"})
    assert forged.status_code == 403 and "页面已过期" in forged.text
    after = (await console.get(f"/v1/cases/{case['id']}", headers=admin)).json()
    assert after["status"] == "dispatched"

    page = await console.get(f"/console/cases/{case['id']}")
    csrf = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert csrf
    done = await console.post(
        f"/console/cases/{case['id']}/act/accept", data={"csrf": csrf.group(1)}
    )
    assert done.status_code == 303
    after = (await console.get(f"/v1/cases/{case['id']}", headers=admin)).json()
    assert after["status"] == "in_progress"


async def test_the_dispatcher_sees_a_returned_case_waiting_for_a_decision(
    console: httpx.AsyncClient,
) -> None:
    admin = bearer()
    case = (
        await console.post("/v1/cases", json=new_case(title="退回来的小广告"), headers=admin)
    ).json()
    handler = bearer("unit_handler", unit=case["unit"])
    returned = await console.post(
        f"/v1/cases/{case['id']}/return", json={"reason": "不属于本网格"}, headers=handler
    )
    assert returned.status_code == 200, returned.text
    token = bearer("dispatcher")["Authorization"].removeprefix("Bearer ")
    page = await console.get("/console/signin")
    await console.post("/console/signin", data={"nonce": _nonce(page.text), "token": token})
    queue = (await console.get("/console")).text
    waiting = queue[queue.index('data-testid="waiting"') : queue.index("我的工单")]
    assert case["id"] in waiting and "已退单" in waiting

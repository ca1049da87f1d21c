"""The API, a worker, PostgreSQL and the Temporal dev server, end to end: a dispatcher drives a
case over HTTP and an operator finds it by search attribute."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import uuid
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.api.enums.v1 import TaskQueueType
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.workflowservice.v1 import DescribeTaskQueueRequest
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from api.main import create_app
from core.config import Settings
from db.models import Case, CaseEventRow, CaseIntakeKey
from tests.conftest import bearer, eventually, unique_queue
from tests.integration.conftest import app_settings, new_case
from worker.stack import temporal_cli


async def run_cli(*args: str) -> str:
    """The `temporal` CLI, exactly as an operator would type it."""
    process = await asyncio.create_subprocess_exec(
        temporal_cli(), *args, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    out, err = await process.communicate()
    assert process.returncode == 0, err.decode()
    return out.decode()


async def polled(client: Client, queue: str) -> bool:
    """A worker polls `queue` (a worker process takes seconds to start on a busy machine)."""
    described = await client.workflow_service.describe_task_queue(
        DescribeTaskQueueRequest(
            namespace=client.namespace,
            task_queue=TaskQueue(name=queue),
            task_queue_type=TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW,
        )
    )
    return bool(described.pollers)


async def count(sessions: async_sessionmaker[AsyncSession], query: Any) -> int:
    async with sessions() as session:
        return int(await session.scalar(query) or 0)


async def drive(
    api: httpx.AsyncClient, case_id: str, *steps: tuple[str, dict[str, Any]]
) -> dict[str, Any]:
    """Take each step as a careful client does: with an Idempotency-Key, retrying on 503."""
    body: dict[str, Any] = {}
    for action, payload in steps:
        key = uuid.uuid4().hex
        while True:
            response = await api.post(
                f"/v1/cases/{case_id}/{action}", json=payload, headers={"Idempotency-Key": key}
            )
            if response.status_code != 503:
                break
            assert response.headers["Retry-After"]
        assert response.status_code == 200, response.text
        body = response.json()
    return body


LIFECYCLE = (
    ("accept", {"note": "网格员孙淑臻签收"}),
    ("contact", {"note": "已电话联系李先生"}),
    ("progress", {"note": "联合物业清理楼道"}),
    ("reply", {"result": "已清理并张贴提示，物业每周巡查"}),
    ("rate", {"grade": "satisfied", "solved": True}),
)


async def test_a_case_driven_over_http_closes_with_its_row_events_and_search_attributes(
    api: httpx.AsyncClient, sessions: Any, dev_server: WorkflowEnvironment
) -> None:
    created = await api.post("/v1/cases", json=new_case())
    assert created.status_code == 201, created.text
    case = created.json()
    assert case["status"] == "dispatched" and case["unit"] == "GT-C01-G02"
    assert case["id"].startswith("LC-") and {d["kind"] for d in case["deadlines"]} == {
        "accept",
        "contact",
        "reply",
    }

    live = (await api.get(f"/v1/cases/{case['id']}")).json()["live"]
    assert live["allowed_actions"] == [
        "accept",
        "return",
        "reassign",
        "reject",
        "urge",
        "escalate",
        "open_linkage",
        "merge",
        "split",
        "add_info",
        "chase",
    ]
    assert len(live["pending_deadlines"]) == 3

    closed = await drive(api, case["id"], *LIFECYCLE)
    assert closed["status"] == "closed" and closed["outcome"] == "rated"

    record = (await api.get(f"/v1/cases/{case['id']}")).json()
    assert record["status"] == "closed" and record["grade"] == "satisfied"
    assert record["reporter"] == {"name": "李先生", "phone": "13900000002", "email": None}
    events = (await api.get(f"/v1/cases/{case['id']}/events")).json()
    assert [e["type"] for e in events] == [
        "received",
        "dispatched",
        "accept",
        "contact",
        "progress",
        "reply",
        "rate",
        "closed",
    ]
    assert [e["seq"] for e in events] == list(range(1, 9))
    assert events[1]["data"]["rule"] is not None

    listed = (await api.get("/v1/cases", params={"status": "closed", "unit": "GT-C01-G02"})).json()
    assert case["id"] in [c["id"] for c in listed["items"]]

    address = dev_server.client.service_client.config.target_host

    query = f"CaseStatus='closed' AND CaseUnit='GT-C01-G02' AND WorkflowId='{case['id']}'"

    async def found_by_operator_query() -> bool:
        out = await run_cli("workflow", "list", "--address", address, "--query", query)
        return case["id"] in out

    assert await eventually(found_by_operator_query)


async def test_the_same_external_ref_returns_the_same_case(
    api: httpx.AsyncClient, sessions: Any
) -> None:
    body = new_case(channel="app", external_ref="APP-20261124-0001")
    first = await api.post("/v1/cases", json=body)
    again = await api.post("/v1/cases", json=body)
    assert (first.status_code, again.status_code) == (201, 200)
    assert first.json()["id"] == again.json()["id"]
    assert (
        await count(
            sessions,
            select(func.count()).select_from(Case).where(Case.external_ref == "APP-20261124-0001"),
        )
        == 1
    )


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"category": "no.such_category"}, "category"),
        ({"reporter": {"name": "x", "phone": "not a phone"}}, "phone"),
        ({"location": {"address": "somewhere", "grid": "C99-G99"}}, "location.grid"),
        ({"location": {"address": "somewhere", "lat": 123.0, "lon": 0.0}}, "lat"),
        ({"channel": "pigeon"}, "channel"),
        ({"title": ""}, "title"),
    ],
)
async def test_bad_input_is_a_422_and_writes_nothing(
    api: httpx.AsyncClient, sessions: Any, change: dict[str, Any], field: str
) -> None:
    cases_before = await count(sessions, select(func.count()).select_from(Case))
    keys_before = await count(sessions, select(func.count()).select_from(CaseIntakeKey))
    response = await api.post("/v1/cases", json=new_case(external_ref="BAD-1", **change))
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] in ("invalid_request", "invalid_reference")
    assert field in str(error["details"])
    assert await count(sessions, select(func.count()).select_from(Case)) == cases_before
    assert await count(sessions, select(func.count()).select_from(CaseIntakeKey)) == keys_before


async def test_an_action_not_allowed_now_is_a_409_that_says_what_is(api: httpx.AsyncClient) -> None:
    case = (await api.post("/v1/cases", json=new_case())).json()
    response = await api.post(f"/v1/cases/{case['id']}/reply", json={"result": "too early"})
    assert response.status_code == 409
    error = response.json()["error"]
    assert error["code"] == "not_allowed_now"
    assert error["details"] == {
        "status": "dispatched",
        "allowed_actions": [
            "accept",
            "return",
            "reassign",
            "reject",
            "urge",
            "escalate",
            "open_linkage",
            "merge",
            "split",
            "add_info",
            "chase",
        ],
    }

    closed = await drive(api, case["id"], ("reject", {"reason": "不属于政府职责"}))
    assert closed["outcome"] == "rejected"
    response = await api.post(f"/v1/cases/{case['id']}/accept", json={})
    assert response.status_code == 409
    assert response.json()["error"]["details"]["allowed_actions"] == []


async def test_unknown_case_is_a_404_and_bad_action_body_a_422(api: httpx.AsyncClient) -> None:
    response = await api.post("/v1/cases/LC-2026-999999/accept", json={})
    assert response.status_code == 404 and response.json()["error"]["code"] == "unknown_case"
    assert (await api.get("/v1/cases/LC-2026-999999")).status_code == 404
    case = (await api.post("/v1/cases", json=new_case())).json()
    response = await api.post(f"/v1/cases/{case['id']}/rate", json={"grade": "delighted"})
    assert response.status_code == 422
    response = await api.post(f"/v1/cases/{case['id']}/reassign", json={"unit": "NOPE"})
    assert response.status_code == 422 and response.json()["error"]["code"] == "invalid_reference"


async def test_reference_data_and_readiness(api: httpx.AsyncClient) -> None:
    assert len((await api.get("/v1/communities")).json()) == 14
    assert len((await api.get("/v1/grids")).json()) == 107
    assert len((await api.get("/v1/grids", params={"community": "C01"})).json()) >= 7
    categories = {c["code"] for c in (await api.get("/v1/categories")).json()}
    assert {"sanitation.dead_corner", "public_order.flyers", "utilities.water_outage"} <= categories
    assert any(u["kind"] == "agency" for u in (await api.get("/v1/units")).json())
    assert (await api.get("/healthz")).json() == {"status": "ok"}
    ready = await api.get("/readyz")
    assert ready.status_code == 200 and ready.json()["checks"] == {
        "postgres": "ok",
        "temporal": "ok",
    }


async def test_a_worker_killed_mid_case_loses_nothing_and_doubles_nothing(
    settings: Settings, dev_server: WorkflowEnvironment, sessions: Any
) -> None:
    queue = unique_queue()
    env = {
        **os.environ,
        "DATABASE_URL": settings.database_url or "",
        "TEMPORAL_ADDRESS": dev_server.client.service_client.config.target_host,
        "GRIDCASE_TASK_QUEUE": queue,
    }

    def start_worker() -> subprocess.Popen[bytes]:
        return subprocess.Popen(
            [sys.executable, "-m", "worker.cli", "worker"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

    # A short RPC timeout so the action sent while no worker runs answers 503 and is retried.
    short = app_settings(settings, dev_server, queue).model_copy(update={"temporal_rpc_timeout": 3})
    app = create_app(short)
    first = start_worker()
    try:
        assert await eventually(lambda: polled(dev_server.client, queue), within=60)
        async with (
            app.router.lifespan_context(app),
            httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app), base_url="http://t", headers=bearer()
            ) as api,
        ):
            # A resident and an address of its own: `gridcase worker` checks for repeats.
            own = new_case(
                reporter={"name": "孙女士", "phone": "13700000242"},
                location={"address": "怡顺社区 9 号楼 1 单元", "grid": "C01-G02"},
            )
            created = await api.post("/v1/cases", json=own)
            assert created.status_code == 201, created.text
            case_id = created.json()["id"]
            await drive(api, case_id, LIFECYCLE[0], LIFECYCLE[1])
            first.send_signal(signal.SIGKILL)
            first.wait(timeout=10)

            # With no worker, the next action waits; a new worker picks the case up where it was.
            pending = asyncio.create_task(drive(api, case_id, *LIFECYCLE[2:]))
            await asyncio.sleep(0.5)
            assert not pending.done()
            second = start_worker()
            try:
                closed = await asyncio.wait_for(pending, timeout=60)
            finally:
                second.terminate()
                second.wait(timeout=20)
    finally:
        if first.poll() is None:
            first.kill()
    assert closed["status"] == "closed"
    async with sessions() as session:
        rows = (
            await session.execute(
                select(CaseEventRow.seq, CaseEventRow.type)
                .where(CaseEventRow.case_id == case_id)
                .order_by(CaseEventRow.seq)
            )
        ).all()
    assert [seq for seq, _ in rows] == list(range(1, len(rows) + 1))
    assert [t for _, t in rows] == [
        "received",
        "dispatched",
        "accept",
        "contact",
        "progress",
        "reply",
        "rate",
        "closed",
    ]


async def test_the_review_queue_lists_twice_unsatisfied_cases(api: httpx.AsyncClient) -> None:
    case_id = (await api.post("/v1/cases", json=new_case())).json()["id"]
    unsatisfied = ("rate", {"grade": "unsatisfied"})
    await drive(api, case_id, *LIFECYCLE[:4], unsatisfied, ("reply", {"result": "再次清理"}))
    await drive(api, case_id, unsatisfied)
    queue = (await api.get("/v1/reviews")).json()["items"]
    assert case_id in [c["id"] for c in queue]
    for community, listed in (("C01", True), ("C02", False)):
        theirs = await api.get("/v1/reviews", headers=bearer("supervisor", community=community))
        assert (case_id in [c["id"] for c in theirs.json()["items"]]) is listed
    closed = await drive(api, case_id, ("review_close", {"verdict": "已尽力处理"}))
    assert closed["status"] == "closed"
    assert case_id not in [c["id"] for c in (await api.get("/v1/reviews")).json()["items"]]


async def test_a_big_case_links_agencies_who_act_over_http(api: httpx.AsyncClient) -> None:
    body = new_case(category="petition.collective", title="多户居民集体反映物业问题")
    case = (await api.post("/v1/cases", json=body)).json()
    assert case["unit"] == "DA-PETITION" and case["linkage"]["status"] == "open"
    case_id = case["id"]

    async def agencies() -> list[dict[str, Any]]:
        live = (await api.get(f"/v1/cases/{case_id}")).json()["live"]
        return live["linkage"]["agencies"] if live["linkage"] else []

    assert [a["unit"] for a in await eventually(agencies)] == [
        "DA-POLICE",
        "DA-JUSTICE",
        "SD-CIVIL",
    ]
    await drive(api, case_id, *LIFECYCLE[:2])
    unknown = await api.post(f"/v1/cases/{case_id}/linkage/add_agency", json={"agency": "NOPE"})
    assert unknown.status_code == 422
    twice = {"agency": "DA-POLICE"}
    assert (await api.post(f"/v1/cases/{case_id}/linkage/report", json=twice)).status_code == 200
    again = await api.post(f"/v1/cases/{case_id}/linkage/report", json=twice)
    assert again.status_code == 409 and again.json()["error"]["code"] == "not_allowed_now"
    released = await api.post(
        f"/v1/cases/{case_id}/linkage/release_agency",
        json={"agency": "DA-JUSTICE", "reason": "无需司法介入"},
    )
    assert released.status_code == 200
    for agency, action in [
        ("SD-CIVIL", "report"),
        ("SD-CIVIL", "agency_done"),
        ("DA-POLICE", "agency_done"),
    ]:
        payload = {"agency": agency} | ({"note": "已完成"} if action == "agency_done" else {})
        done = await api.post(f"/v1/cases/{case_id}/linkage/{action}", json=payload)
        assert done.status_code == 200, done.text

    async def linkage_closed() -> bool:
        got = (await api.get(f"/v1/cases/{case_id}")).json()
        live = got["live"]
        return live["linkage"]["status"] == "completed" and "reply" in live["allowed_actions"]

    assert await eventually(linkage_closed)
    closed = await drive(api, case_id, *LIFECYCLE[3:])
    assert closed["status"] == "closed"
    listed = (await api.get("/v1/cases", params={"category": "petition.collective"})).json()
    assert any(c["id"] == case_id and c["linkage"] == "completed" for c in listed["items"])

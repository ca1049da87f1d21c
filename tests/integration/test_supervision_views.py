"""What supervisors and operators look at: the case list's filters, search and due-time order
with a cursor, and the README's operator queries run against the dev server."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import update
from temporalio.testing import WorkflowEnvironment

from db.models import Case
from tests.conftest import bearer, eventually
from tests.integration.conftest import new_case
from tests.integration.test_case_api import run_cli

README = Path(__file__).resolve().parents[2] / "README.md"


def operator_queries() -> dict[str, str]:
    """The fenced block after `<!-- operator-queries -->`: comment line, then its query."""
    text = README.read_text(encoding="utf-8")
    block = text.split("<!-- operator-queries -->", 1)[1].split("```")[1]
    lines = [line.strip() for line in block.strip().splitlines() if line.strip()]
    return {lines[i].lstrip("# "): lines[i + 1] for i in range(0, len(lines), 2)}


async def file(api: httpx.AsyncClient, **overrides: Any) -> dict[str, Any]:
    created = await api.post("/v1/cases", json=new_case(**overrides))
    assert created.status_code == 201, created.text
    return created.json()


async def test_list_filters_search_and_due_order(api: httpx.AsyncClient, sessions: Any) -> None:
    marker = f"找得到-{datetime.now(UTC).timestamp():.0f}"
    plain = await file(api, title=f"路灯不亮 {marker}")
    urgent = await file(api, category="utilities.water_outage", description=f"停水 {marker}")
    escalated = await file(api, title=f"井盖缺失 {marker}")
    await api.post(f"/v1/cases/{escalated['id']}/escalate", json={"reason": "多次反映"})

    async def ids(**params: Any) -> list[str]:
        page = (await api.get("/v1/cases", params={"q": marker, **params})).json()
        return [c["id"] for c in page["items"]]

    assert set(await ids()) == {plain["id"], urgent["id"], escalated["id"]}
    assert await ids(escalated=True) == [escalated["id"]]
    # Earliest due first: the water outage's 30-minute sign-for limit comes before 2 h.
    by_due = await ids(sort="due")
    assert by_due[0] == urgent["id"] and len(by_due) == 3
    soon = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    assert await ids(due_before=soon) == [urgent["id"]]
    # A cursor walks the due-time order one case at a time, none twice.
    seen, cursor = [], None
    for _ in range(3):
        params = {"q": marker, "sort": "due", "limit": 1, **({"cursor": cursor} if cursor else {})}
        page = (await api.get("/v1/cases", params=params)).json()
        seen += [c["id"] for c in page["items"]]
        cursor = page["next_cursor"]
    assert seen == by_due and cursor is None
    bad = await api.get("/v1/cases", params={"sort": "due", "cursor": "bm9wZQ"})
    assert bad.status_code == 422

    # Past its warning point and not yet due: at risk (the record's warn_at, as the workflow
    # writes it; moved here instead of waiting 96 minutes).
    async with sessions.begin() as session:
        await session.execute(
            update(Case)
            .where(Case.id == plain["id"])
            .values(warn_at=datetime.now(UTC) - timedelta(minutes=1))
        )
    assert await ids(at_risk=True) == [plain["id"]]

    # The count: every match, not one page of them, in the caller's scope, with the overdue and
    # at-risk among them.
    async def count(headers: dict[str, str] | None = None, **params: Any) -> dict[str, int]:
        answer = await api.get("/v1/cases/count", params={"q": marker, **params}, headers=headers)
        assert answer.status_code == 200, answer.text
        return answer.json()

    assert await count(limit=1) == {"count": 3, "overdue": 0, "at_risk": 1}
    assert await count(escalated=True) == {"count": 1, "overdue": 0, "at_risk": 0}
    assert (await count(sort="due", limit=1))["count"] == 3
    handler = bearer("unit_handler", unit=plain["unit"])
    theirs = {c["id"] for c in (plain, urgent, escalated) if c["unit"] == plain["unit"]}
    listed = (await api.get("/v1/cases", params={"q": marker}, headers=handler)).json()
    assert {c["id"] for c in listed["items"]} == theirs
    assert (await count(handler))["count"] == len(theirs) < 3

    # The timeline says, at every step, where each deadline stood.
    accepted = await api.post(f"/v1/cases/{plain['id']}/accept", json={})
    assert accepted.status_code == 200
    timeline = (await api.get(f"/v1/cases/{plain['id']}/events")).json()
    assert timeline[1]["data"]["rule"] and timeline[1]["deadlines"]["accept"]["state"] == "pending"
    assert (
        timeline[-1]["type"] == "accept" and timeline[-1]["deadlines"]["accept"]["state"] == "met"
    )


async def test_every_operator_query_in_the_readme_runs_and_finds_its_cases(
    api: httpx.AsyncClient, dev_server: WorkflowEnvironment
) -> None:
    address = dev_server.client.service_client.config.target_host
    queries = operator_queries()
    assert len(queries) == 5
    linked = await file(api, category="petition.collective", location={"address": "沧口三社区"})
    high = await file(api, location={"address": "C01 某楼", "grid": "C01-G03"})
    for _ in range(2):
        escalate = await api.post(f"/v1/cases/{high['id']}/escalate", json={"reason": "久拖"})
        assert escalate.status_code == 200
    bounced = await file(api)
    for action, body in (("return", {"reason": "不归我们"}), ("reassign", {"unit": "CO-C01"})):
        moved = await api.post(f"/v1/cases/{bounced['id']}/{action}", json=body)
        assert moved.status_code == 200, moved.text

    async def found(query: str) -> set[str]:
        out = await run_cli(
            "workflow", "list", "--address", address, "-o", "json", "--query", query
        )
        return {w["execution"]["workflowId"] for w in json.loads(out or "[]")}

    tomorrow = (datetime.now(UTC) + timedelta(hours=24)).strftime("%Y-%m-%dT%H:%M:%SZ")
    due_soon = re.sub(
        r"'\d{4}-\d\d-\d\dT[\d:]+Z'",
        f"'{tomorrow}'",
        queries["due in the next 24 h (put now + 24 h, in UTC)"],
    )

    async def all_visible() -> bool:
        return (
            high["id"]
            in await found(queries["escalated to the subdistrict (ladder level 2) or higher"])
            and linked["id"] in await found(queries["a multi-agency linkage is open"])
            and high["id"] in await found(due_soon)
            and bounced["id"]
            in await found(queries["bounced between units: returned or reassigned twice or more"])
        )

    assert await eventually(all_visible, within=15)
    overdue = await found(queries["overdue cases in a community"])
    assert high["id"] not in overdue and linked["id"] not in overdue  # nothing of ours is late
    bounced_twice = queries["bounced between units: returned or reassigned twice or more"]
    assert high["id"] not in await found(bounced_twice)

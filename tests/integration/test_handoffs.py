"""Routing disputes, hand-offs and reopening over HTTP: the dispatcher disputes a unit's return,
the governance centre rules, the unit named cannot return it again; the resident reopens a
closed case with its token and it closes again through the loop. The statistics count both,
and callers the permission table does not name get 403."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import httpx

from domain.calendar import SUBDISTRICT_TZ
from tests.conftest import bearer
from tests.integration.conftest import new_case

HANDLER = bearer("unit_handler", unit="GT-C01-G02")  # the flyers of grid C01-G02 go to it
COMMUNITY = bearer("unit_handler", unit="CO-C01")
DISPATCHER = bearer("dispatcher")
CENTRE = bearer("supervisor")  # the subdistrict's: the governance centre


async def today(api: httpx.AsyncClient) -> dict[str, Any]:
    day = datetime.now(UTC).astimezone(SUBDISTRICT_TZ).date().isoformat()
    got = await api.get("/v1/stats", params={"from": day, "to": day}, headers=DISPATCHER)
    assert got.status_code == 200, got.text
    counts: dict[str, Any] = got.json()["total"]["counts"]
    return counts


async def post(api: httpx.AsyncClient, path: str, body: dict[str, Any], who: Any) -> Any:
    done = await api.post(path, json=body, headers=who)
    assert done.status_code == 200, done.text
    return done.json()


async def test_a_disputed_return_is_ruled_and_the_unit_named_keeps_the_case(
    api: httpx.AsyncClient,
) -> None:
    before = await today(api)
    case = (await api.post("/v1/cases", json=new_case())).json()
    path = f"/v1/cases/{case['id']}"
    await post(api, f"{path}/return", {"reason": "不属于网格"}, HANDLER)
    refused = await api.post(f"{path}/dispute", json={"reason": "x"}, headers=HANDLER)
    assert refused.status_code == 403 and refused.json()["error"]
    disputed = await post(api, f"{path}/dispute", {"reason": "楼道属网格责任区"}, DISPATCHER)
    assert (disputed["status"], disputed["dispute"]) == ("returned", "pending")
    ruling = [d for d in disputed["deadlines"] if d["kind"] == "ruling"]
    assert ruling and ruling[0]["met_at"] is None

    unknown = await api.post(
        f"{path}/rule_on_return", json={"unit": "NO-SUCH", "reason": "x"}, headers=CENTRE
    )
    assert unknown.status_code in (404, 422) and unknown.json()["error"]
    by_dispatcher = await api.post(
        f"{path}/rule_on_return", json={"unit": "GT-C01-G02", "reason": "x"}, headers=DISPATCHER
    )
    assert by_dispatcher.status_code == 403
    ruled = await post(
        api, f"{path}/rule_on_return", {"unit": "GT-C01-G02", "reason": "责任区内"}, CENTRE
    )
    assert (ruled["status"], ruled["unit"], ruled["bound_unit"], ruled["handoffs"]) == (
        "dispatched",
        "GT-C01-G02",
        "GT-C01-G02",
        2,
    )
    seen = (await api.get(path, headers=HANDLER)).json()
    assert "return" not in seen["allowed_actions"] and "accept" in seen["allowed_actions"]
    again = await api.post(f"{path}/return", json={"reason": "还是不归我们"}, headers=HANDLER)
    assert again.status_code == 409 and again.json()["error"]["details"]["status"] == "dispatched"

    events = (await api.get(f"{path}/events", headers=DISPATCHER)).json()
    assert [e["type"] for e in events][-3:] == ["return", "dispute", "rule_on_return"]
    after = await today(api)
    assert after["handed_off"] - before["handed_off"] == 1


async def test_the_resident_reopens_a_closed_case_and_it_closes_again(
    api: httpx.AsyncClient,
) -> None:
    before = await today(api)
    case = (await api.post("/v1/cases", json=new_case())).json()
    path = f"/v1/cases/{case['id']}"
    resident = {"Authorization": f"Bearer {case['resident_token']}"}
    for action, body in (
        ("accept", {}),
        ("contact", {"note": "已电话联系"}),
        ("reply", {"result": "已清理小广告"}),
    ):
        await post(api, f"{path}/{action}", body, HANDLER)
    # The hotline's return visit rates it for the resident: closed.
    closed = await post(api, f"{path}/rate", {"grade": "satisfied", "solved": True}, DISPATCHER)
    assert closed["status"] == "closed" and closed["reopen_until"] is not None
    seen = (await api.get(path, headers=resident)).json()
    assert seen["allowed_actions"] == ["reopen"]

    by_supervisor = await api.post(f"{path}/reopen", json={"reason": "x"}, headers=CENTRE)
    assert by_supervisor.status_code == 403 and by_supervisor.json()["error"]
    empty = await api.post(f"{path}/reopen", json={}, headers=resident)
    assert empty.status_code == 422 and empty.json()["error"]

    reopened = await post(api, f"{path}/reopen", {"reason": "又贴满了"}, resident)
    assert (reopened["status"], reopened["unit"], reopened["reopens"]) == (
        "in_progress",
        "GT-C01-G02",
        1,
    )
    assert reopened["outcome"] is None and reopened["closed_at"] is None
    twice = await api.post(f"{path}/reopen", json={"reason": "再开"}, headers=resident)
    assert twice.status_code == 409 and twice.json()["error"]

    await post(api, f"{path}/reply", {"result": "再次清理并张贴告示"}, HANDLER)
    again = await post(api, f"{path}/rate", {"grade": "basically_satisfied"}, DISPATCHER)
    assert (again["status"], again["grade"], again["reopens"]) == (
        "closed",
        "basically_satisfied",
        1,
    )
    types = [e["type"] for e in (await api.get(f"{path}/events", headers=resident)).json()]
    assert types.count("closed") == 2 and types.count("reopen") == 1
    after = await today(api)
    assert after["reopened"] - before["reopened"] == 1
    assert after["closed"] - before["closed"] == 1

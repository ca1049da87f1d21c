"""The return-visit desk over HTTP: a replied case shows up in the visits queue when its call is
due, the visitor records an unreached attempt and then the resident's rating; bad calls are
4xx with the error body, and only the desk may call."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx

from tests.conftest import bearer
from tests.integration.conftest import new_case

HANDLER = bearer("unit_handler", unit="GT-C01-G02")  # the flyers of grid C01-G02 go to it
VISITOR = bearer("visitor")


async def replied_case(api: httpx.AsyncClient) -> dict[str, object]:
    created = await api.post("/v1/cases", json=new_case())
    assert created.status_code == 201, created.text
    case = created.json()
    path = f"/v1/cases/{case['id']}"
    for action, body in (
        ("accept", {}),
        ("contact", {"note": "已电话联系"}),
        ("reply", {"result": "已清理小广告"}),
    ):
        done = await api.post(f"{path}/{action}", json=body, headers=HANDLER)
        assert done.status_code == 200, done.text
    replied: dict[str, object] = done.json()
    return replied


async def test_the_desk_finds_the_replied_case_and_records_its_calls(
    api: httpx.AsyncClient,
) -> None:
    case = await replied_case(api)
    assert case["unit"] == "GT-C01-G02" and case["visit_due_at"] is not None
    path = f"/v1/cases/{case['id']}"
    # Due the next working day: not in today's queue, in the one planned a week ahead.
    now = await api.get("/v1/visits", params={"limit": 200}, headers=VISITOR)
    assert now.status_code == 200, now.text
    assert case["id"] not in [v["id"] for v in now.json()["items"]]
    ahead = (datetime.now(UTC) + timedelta(days=7)).isoformat()
    planned = await api.get(
        "/v1/visits", params={"due_before": ahead, "limit": 200}, headers=VISITOR
    )
    due = {v["id"]: v for v in planned.json()["items"]}
    assert due[case["id"]]["reporter_phone"] == "13900000002"  # the visitor calls it
    assert due[case["id"]]["app_grade"] is None
    order = [v["visit_due_at"] for v in planned.json()["items"]]
    assert order == sorted(order)  # the longest waiting first
    supervisor = await api.get(
        "/v1/visits", params={"due_before": ahead, "limit": 200}, headers=bearer("supervisor")
    )
    seen = {v["id"]: v for v in supervisor.json()["items"]}
    assert seen[case["id"]]["reporter_phone"] == "139****0002"  # reads the queue, does not call

    missed = await api.post(
        f"{path}/visit", json={"reached": False, "note": "无人接听"}, headers=VISITOR
    )
    assert missed.status_code == 200, missed.text
    assert (missed.json()["status"], missed.json()["unreached_attempts"]) == ("replied", 1)

    rated = await api.post(
        f"{path}/visit",
        json={"reached": True, "grade": "basically_satisfied", "solved": True},
        headers=VISITOR,
    )
    assert rated.status_code == 200, rated.text
    assert (rated.json()["status"], rated.json()["outcome"], rated.json()["grade"]) == (
        "closed",
        "rated",
        "basically_satisfied",
    )
    events = (await api.get(f"{path}/events")).json()
    visits = [e for e in events if e["type"] == "visit"]
    assert [v["data"]["reached"] for v in visits] == [False, True]
    assert visits[0]["actor"] == "test-visitor"


async def test_a_bad_call_is_refused_with_its_reason(api: httpx.AsyncClient) -> None:
    case = await replied_case(api)
    path = f"/v1/cases/{case['id']}/visit"
    no_grade = await api.post(path, json={"reached": True}, headers=VISITOR)
    assert no_grade.status_code == 422 and "grade" in no_grade.text
    no_note = await api.post(path, json={"reached": False}, headers=VISITOR)
    assert no_note.status_code == 422 and "note" in no_note.text
    by_unit = await api.post(path, json={"reached": False, "note": "x"}, headers=HANDLER)
    assert by_unit.status_code == 403, by_unit.text
    queue = await api.get("/v1/visits", headers=HANDLER)
    assert queue.status_code == 403 and queue.json()["error"]
    fresh = (await api.post("/v1/cases", json=new_case())).json()
    early = await api.post(
        f"/v1/cases/{fresh['id']}/visit", json={"reached": False, "note": "x"}, headers=VISITOR
    )
    assert early.status_code == 409 and early.json()["error"]["details"]["status"] == "dispatched"
    assert (await api.get(path.removesuffix("/visit"))).json()["status"] == "replied"

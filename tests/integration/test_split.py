"""拆分 over HTTP: a dispatcher splits a request into child cases; each child is routed by its
own category, handled by its own unit and shown with its parent; the parent shows them and
closes with the last of them. A bad split is a 4xx with the error body and files nothing."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx

from tests.conftest import bearer
from tests.integration.conftest import new_case

DISPATCHER = bearer("dispatcher")
FLYERS_TEAM = bearer("unit_handler", unit="GT-C01-G02")  # the flyers of grid C01-G02
URBAN = bearer("unit_handler", unit="SD-URBAN")  # road damage anywhere in the subdistrict
MATTERS = [
    {
        "category": "public_order.flyers",
        "title": "楼道小广告",
        "location": {"address": "怡顺社区 3 号楼 2 单元", "grid": "C01-G02"},
    },
    {
        "category": "urban.road_damage",
        "title": "楼前路面塌陷",
        "location": {"address": "怡顺社区 3 号楼前", "grid": "C01-G02"},
    },
]


async def until(api: httpx.AsyncClient, path: str, status: str) -> dict[str, Any]:
    for _ in range(100):
        case: dict[str, Any] = (await api.get(path)).json()
        if case["status"] == status:
            return case
        await asyncio.sleep(0.1)
    raise AssertionError(f"{path} never reached {status}: {case['status']}")


async def test_a_dispatcher_splits_a_request_and_it_closes_with_its_children(
    api: httpx.AsyncClient,
) -> None:
    case = (await api.post("/v1/cases", json=new_case())).json()
    path = f"/v1/cases/{case['id']}"
    body = {"children": MATTERS, "reason": "一单两事"}
    assert (await api.post(f"{path}/split", json=body, headers=FLYERS_TEAM)).status_code == 403
    split = await api.post(f"{path}/split", json=body, headers=DISPATCHER)
    assert split.status_code == 200, split.text
    ids = [f"{case['id']}-1", f"{case['id']}-2"]
    assert split.json()["status"] == "split"
    assert [c["id"] for c in split.json()["children"]] == ids
    again = await api.post(f"{path}/split", json=body, headers=DISPATCHER)
    assert again.status_code == 409 and again.json()["error"]["details"]["status"] == "split"

    first = await until(api, f"/v1/cases/{ids[0]}", "dispatched")
    second = await until(api, f"/v1/cases/{ids[1]}", "dispatched")
    assert (first["unit"], second["unit"]) == ("GT-C01-G02", "SD-URBAN")
    assert first["parent"] == case["id"] and first["reporter"]["name"] == "李先生"
    assert second["description"] == case["description"]

    done = await api.post(
        f"/v1/cases/{ids[0]}/reject", json={"reason": "已由物业清理"}, headers=DISPATCHER
    )
    assert done.status_code == 200, done.text
    for action, body in (
        ("accept", {}),
        ("contact", {"note": "已电话联系"}),
        ("reply", {"result": "已修补路面"}),
    ):
        step = await api.post(f"/v1/cases/{ids[1]}/{action}", json=body, headers=URBAN)
        assert step.status_code == 200, step.text
    rated = await api.post(
        f"/v1/cases/{ids[1]}/rate", json={"grade": "satisfied", "solved": True}, headers=DISPATCHER
    )
    assert rated.status_code == 200, rated.text

    closed = await until(api, path, "closed")
    assert closed["outcome"] == "split"
    assert [(c["id"], c["outcome"], c["result"]) for c in closed["children"]] == [
        (ids[0], "rejected", None),
        (ids[1], "rated", "已修补路面"),
    ]
    types = [e["type"] for e in (await api.get(f"{path}/events")).json()]
    assert types[-4:] == ["split", "child_closed", "child_closed", "closed"]


async def test_a_bad_split_is_refused_and_files_nothing(api: httpx.AsyncClient) -> None:
    case = (await api.post("/v1/cases", json=new_case())).json()
    path = f"/v1/cases/{case['id']}"
    one = await api.post(f"{path}/split", json={"children": MATTERS[:1]}, headers=DISPATCHER)
    assert one.status_code == 422 and one.json()["error"]
    unknown = [MATTERS[0], {**MATTERS[1], "category": "no.such_category"}]
    refused = await api.post(f"{path}/split", json={"children": unknown}, headers=DISPATCHER)
    assert refused.status_code == 422, refused.text
    assert refused.json()["error"]["details"]["field"] == "children[1].category"
    assert (await api.get(path)).json()["status"] == "dispatched"
    assert (await api.get(f"{path}-1")).status_code == 404
    await api.post(f"{path}/accept", json={}, headers=FLYERS_TEAM)
    late = await api.post(f"{path}/split", json={"children": MATTERS}, headers=DISPATCHER)
    assert late.status_code == 409 and late.json()["error"]["details"]["status"] == "in_progress"

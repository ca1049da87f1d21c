"""主办/协办 over HTTP: the lead unit asks for an assisting unit, a supervisor approves, the
assisting unit's staff see the case and sign for and finish their part, and the lead unit replies
once it is done. Bad requests are 4xx with the error body."""

from __future__ import annotations

import asyncio

import httpx

from tests.conftest import bearer
from tests.integration.conftest import new_case

LEAD = bearer("unit_handler", unit="GT-C01-G02")  # the flyers of grid C01-G02
URBAN = bearer("unit_handler", unit="SD-URBAN")
POLICE = bearer("unit_handler", unit="DA-POLICE")
SUPERVISOR = bearer("supervisor")


async def test_an_assisting_unit_does_its_part_before_the_lead_unit_replies(
    api: httpx.AsyncClient,
) -> None:
    case = (await api.post("/v1/cases", json=new_case())).json()
    path = f"/v1/cases/{case['id']}"
    for action, body in (("accept", {}), ("contact", {"note": "已电话联系"})):
        assert (await api.post(f"{path}/{action}", json=body, headers=LEAD)).status_code == 200
    ask = {"units": ["SD-URBAN"], "reason": "小广告贴在城管管辖的围挡上"}
    by_dispatcher = await api.post(f"{path}/request_assist", json=ask, headers=bearer("dispatcher"))
    assert by_dispatcher.status_code == 403 and by_dispatcher.json()["error"]
    unknown = await api.post(
        f"{path}/request_assist", json={**ask, "units": ["NO-SUCH"]}, headers=LEAD
    )
    assert unknown.status_code == 422 and unknown.json()["error"]["details"]["field"] == "units[0]"
    assert (await api.get(path, headers=URBAN)).status_code == 404  # not its case yet

    asked = await api.post(f"{path}/request_assist", json=ask, headers=LEAD)
    assert asked.status_code == 200, asked.text
    assert asked.json()["assist"]["units"] == ["SD-URBAN"]
    by_lead = await api.post(f"{path}/approve_assist", json={}, headers=LEAD)
    assert by_lead.status_code == 403
    approved = await api.post(f"{path}/approve_assist", json={"note": "同意"}, headers=SUPERVISOR)
    assert approved.status_code == 200, approved.text
    assert approved.json()["linkage"]["kind"] == "assist"
    early = await api.post(f"{path}/reply", json={"result": "已清理"}, headers=LEAD)
    assert early.status_code == 409

    seen = await api.get(path, headers=URBAN)  # the assisting unit now sees the case
    assert seen.status_code == 200 and seen.json()["live"]["linkage"]["kind"] == "assist"
    part = {"agency": "SD-URBAN", "note": "已到场"}
    other = await api.post(f"{path}/linkage/report", json=part, headers=POLICE)
    assert other.status_code in (403, 404)
    reported = await api.post(f"{path}/linkage/report", json=part, headers=URBAN)
    assert reported.status_code == 200, reported.text
    done = await api.post(
        f"{path}/linkage/agency_done",
        json={"agency": "SD-URBAN", "note": "围挡已清理"},
        headers=URBAN,
    )
    assert done.status_code == 200, done.text
    assert (await api.post(f"{path}/reply", json={"result": "x"}, headers=URBAN)).status_code == 403

    for _ in range(100):  # the linkage tells the case it is complete
        live = (await api.get(path, headers=LEAD)).json()["live"]
        if "reply" in live["allowed_actions"]:
            break
        await asyncio.sleep(0.1)
    replied = await api.post(f"{path}/reply", json={"result": "联合城管已清理"}, headers=LEAD)
    assert replied.status_code == 200, replied.text
    assert replied.json()["assists"] == 1
    types = [e["type"] for e in (await api.get(f"{path}/events")).json()]
    for step in ("request_assist", "approve_assist", "linkage_opened", "agency_done", "reply"):
        assert step in types

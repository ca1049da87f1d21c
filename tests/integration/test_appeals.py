"""申诉 and 核减 over HTTP, on the dev server: the unit appeals on an open case (its workflow
takes it) and on a closed one (a workflow of its own); a supervisor rules; the exempted case
leaves the unit's monthly score while its raw figures stay, and record and event log agree."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from db import stats
from domain.calendar import SUBDISTRICT_TZ
from tests.conftest import bearer
from tests.integration.conftest import new_case

SUPERVISOR = bearer("supervisor")
EVIDENCE = ["https://photos.example/contract.jpg", "https://photos.example/site.jpg"]


def appeal(**fields: Any) -> dict[str, Any]:
    return {"against": "unsatisfied", "reason": "诉求超出本单位职责", "evidence": EVIDENCE} | fields


async def post(api: httpx.AsyncClient, path: str, body: dict[str, Any], **headers: Any) -> Any:
    answer = await api.post(path, json=body, **headers)
    assert answer.status_code == 200, answer.text
    return answer.json()


async def unsatisfied_twice_and_closed(api: httpx.AsyncClient, unit: dict[str, str]) -> str:
    case = (await api.post("/v1/cases", json=new_case())).json()
    path = f"/v1/cases/{case['id']}"
    await post(api, f"{path}/accept", {}, headers=unit)
    await post(api, f"{path}/contact", {"note": "已联系"}, headers=unit)
    for result in ("已清理", "再次清理"):
        await post(api, f"{path}/reply", {"result": result}, headers=unit)
        await post(api, f"{path}/rate", {"grade": "unsatisfied", "solved": False})
    await post(api, f"{path}/review_close", {"verdict": "已尽力"}, headers=SUPERVISOR)
    return str(case["id"])


async def test_a_closed_case_exempted_on_appeal_leaves_the_units_score_only(
    api: httpx.AsyncClient, sessions: async_sessionmaker[AsyncSession]
) -> None:
    unit = bearer("unit_handler", unit="GT-C01-G02")
    case_id = await unsatisfied_twice_and_closed(api, unit)
    path = f"/v1/cases/{case_id}"
    seen = (await api.get(path, headers=unit)).json()
    assert seen["status"] == "closed" and seen["allowed_actions"] == ["appeal"]

    # Only the case's own unit appeals; a body without evidence is refused before anything.
    assert (await api.post(f"{path}/appeal", json=appeal(), headers=SUPERVISOR)).status_code == 403
    other = bearer("unit_handler", unit="SD-URBAN")
    assert (await api.post(f"{path}/appeal", json=appeal(), headers=other)).status_code == 404
    bare = await api.post(f"{path}/appeal", json=appeal(evidence=[]), headers=unit)
    assert bare.status_code == 422 and bare.json()["error"]
    missed = await api.post(
        f"{path}/appeal", json=appeal(against="deadline", deadline="reply"), headers=unit
    )
    assert missed.status_code == 409 and "not missed" in missed.json()["error"]["message"]

    filed = await post(api, f"{path}/appeal", appeal(), headers=unit)
    assert filed["appeal"]["workflow_id"] == f"{case_id}-appeal-1"
    assert filed["appeal"]["status"] == "pending" and filed["allowed_actions"] == []
    again = await api.post(f"{path}/appeal", json=appeal(), headers=unit)
    assert again.status_code == 409 and "awaits its ruling" in again.json()["error"]["message"]
    ruled = await post(
        api,
        f"{path}/rule_on_appeal",
        {"ruling": "exempted", "reason": "诉求超出职责范围, 予以核减"},
        headers=SUPERVISOR,
    )
    assert ruled["exemption"] == "诉求超出职责范围, 予以核减"
    assert ruled["grade"] == "unsatisfied" and ruled["outcome"] == "rated"  # raw facts stay
    record = (await api.get(path)).json()
    assert record["exemption"] == ruled["exemption"] and record["appeal"]["status"] == "exempted"
    events = (await api.get(f"{path}/events")).json()
    assert [e["type"] for e in events][-2:] == ["appeal", "rule_on_appeal"]
    assert events[-2]["data"]["evidence"] == EVIDENCE
    assert events[-1]["data"]["ruling"] == "exempted"
    late = await api.post(
        f"{path}/rule_on_appeal", json={"ruling": "upheld", "reason": "x"}, headers=SUPERVISOR
    )
    assert late.status_code == 409

    # 核减: the unit's score leaves this case out, its raw figures keep it. By hand, this case
    # is 1 received, dispatched, closed, replied (on time), rated unsatisfied, not solved.
    received = datetime.fromisoformat(record["received_at"])
    month = received.astimezone(SUBDISTRICT_TZ).strftime("%Y-%m")
    body = (await api.get("/v1/scores", params={"month": month, "by": "unit"})).json()
    (row,) = [r for r in body["rows"] if r["group"] == {"unit": "GT-C01-G02"}]
    assert row["exempted"] == 1
    difference = {k: row["raw"]["counts"][k] - row["counts"][k] for k in row["counts"]}
    assert {k: v for k, v in difference.items() if v} == {
        "received": 1,
        "dispatched": 1,
        "closed": 1,
        "rated": 1,
        "unsatisfied": 1,
        "accepted_on_time": 1,
        "replied": 1,
        "replied_on_time": 1,
    }
    assert row["raw"]["rates"]["satisfaction"]["denominator"] == (
        row["rates"]["satisfaction"]["denominator"] + 1
    )

    # The record's exempted cases and the event log's agree.
    start, end = received, received + timedelta(microseconds=1)
    async with sessions() as session:
        rows = await stats.exempted_stats(session, start=start, end=end, group_by=["unit"])
        replayed = await stats.case_stats_from_events(
            session, start=start, end=end, group_by=["unit"], exempted_only=True
        )
    assert [(r.group, r.counts) for r in rows] == [(r.group, r.counts) for r in replayed]
    assert rows[0].counts.received == 1


async def test_an_open_cases_appeal_goes_to_its_workflow_and_an_upheld_one_changes_nothing(
    api: httpx.AsyncClient,
) -> None:
    unit = bearer("unit_handler", unit="GT-C01-G02")
    case = (await api.post("/v1/cases", json=new_case())).json()
    path = f"/v1/cases/{case['id']}"
    await post(api, f"{path}/accept", {}, headers=unit)
    await post(api, f"{path}/contact", {"note": "已联系"}, headers=unit)
    await post(api, f"{path}/reply", {"result": "已清理"}, headers=unit)
    await post(api, f"{path}/rate", {"grade": "unsatisfied", "solved": False})  # 重办
    filed = await post(api, f"{path}/appeal", appeal(), headers=unit)
    assert filed["appeal"]["workflow_id"] == case["id"] and filed["status"] == "in_progress"
    assert "appeal" in [d["kind"] for d in filed["deadlines"]]
    assert (
        await api.post(
            f"{path}/rule_on_appeal", json={"ruling": "upheld", "reason": "x"}, headers=unit
        )
    ).status_code == 403
    ruled = await post(
        api,
        f"{path}/rule_on_appeal",
        {"ruling": "upheld", "reason": "证据不足, 维持"},
        headers=SUPERVISOR,
    )
    assert ruled["appeal"]["status"] == "upheld" and ruled["exemption"] is None
    assert ruled["status"] == "in_progress"  # still the unit's to handle again

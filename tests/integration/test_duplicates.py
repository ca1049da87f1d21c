"""Duplicates: a new case of the same category near an open one is flagged; the dispatcher
merges it; its reporter is told at once, and every reporter gets the master's reply, once."""

from __future__ import annotations

from typing import Any

import httpx
from sqlalchemy import func, select

from db.models import Notification
from tests.conftest import eventually
from tests.integration.conftest import new_case
from tests.integration.test_case_api import LIFECYCLE, drive


def pothole(
    lat: float, lon: float, name: str, phone: str, category: str = "urban.road_damage"
) -> dict[str, Any]:
    return new_case(
        category=category,
        title="路面塌陷",
        description=f"{name} 报告: 路面有坑",
        location={"address": "沧口路 8 号门前", "lat": lat, "lon": lon},
        reporter={"name": name, "phone": phone},
    )


async def test_a_nearby_case_is_flagged_and_merged_and_every_reporter_hears_once(
    api: httpx.AsyncClient, sessions: Any
) -> None:
    master = (
        await api.post("/v1/cases", json=pothole(36.1712, 120.3821, "周先生", "13900000021"))
    ).json()
    assert master["possible_duplicate_of"] is None
    # About 45 m away, same category: flagged. Another category there: not.
    dup = (
        await api.post("/v1/cases", json=pothole(36.1716, 120.3822, "吴女士", "13900000022"))
    ).json()
    assert dup["possible_duplicate_of"] == master["id"]
    other = pothole(36.1716, 120.3822, "郑先生", "13900000023", category="urban.street_vendor")
    assert (await api.post("/v1/cases", json=other)).json()["possible_duplicate_of"] is None
    listed = (await api.get("/v1/cases", params={"category": "urban.road_damage"})).json()
    assert {c["id"]: c["possible_duplicate_of"] for c in listed["items"]}[dup["id"]] == master["id"]

    # Bad merges answer clearly and change nothing.
    unknown = await api.post(f"/v1/cases/{dup['id']}/merge", json={"into": "LC-2026-999999"})
    assert unknown.status_code == 422
    itself = await api.post(f"/v1/cases/{dup['id']}/merge", json={"into": dup["id"]})
    assert itself.status_code == 409

    merged = (await api.post(f"/v1/cases/{dup['id']}/merge", json={"into": master["id"]})).json()
    assert (merged["status"], merged["outcome"], merged["merged_into"]) == (
        "closed",
        "duplicate",
        master["id"],
    )
    kept = (await api.get(f"/v1/cases/{dup['id']}")).json()  # nothing of the duplicate is lost
    assert kept["description"] == "吴女士 报告: 路面有坑" and kept["reporter"]["name"] == "吴女士"

    async def merged_in() -> bool:
        events = (await api.get(f"/v1/cases/{master['id']}/events")).json()
        return any(e["type"] == "merged_in" for e in events)

    assert await eventually(merged_in)
    closed = await drive(api, master["id"], *LIFECYCLE)
    assert closed["status"] == "closed" and closed["merged"] == [dup["id"]]

    async with sessions() as session:
        rows = await session.execute(
            select(Notification.recipient, Notification.kind, func.count())
            .where(Notification.case_id.in_([master["id"], dup["id"]]))
            .where(Notification.recipient.like("reporter:%"))
            .group_by(Notification.recipient, Notification.kind)
        )
        told = {(r, k): n for r, k, n in rows}
    assert told == {
        (f"reporter:{dup['id']}", "merged"): 1,
        (f"reporter:{dup['id']}", "reply"): 1,
        (f"reporter:{master['id']}", "rating"): 1,  # the master's reply asks for a rating
        (f"reporter:{master['id']}", "reply"): 1,
    }
    late = (
        await api.post("/v1/cases", json=pothole(36.1712, 120.3821, "王", "13900000024"))
    ).json()
    into_closed = await api.post(f"/v1/cases/{late['id']}/merge", json={"into": master["id"]})
    assert into_closed.status_code == 409  # the master is closed

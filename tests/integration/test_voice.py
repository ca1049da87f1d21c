"""The resident's voice over HTTP with the token intake returned: more information and a
chaser reach the case (recorded, counted, sent to the unit); the day's chasers run out with a
409; another case's token and a unit cannot speak for the resident."""

from __future__ import annotations

import httpx

from tests.conftest import bearer
from tests.integration.conftest import new_case


async def test_the_resident_adds_information_and_chases_with_its_token(
    api: httpx.AsyncClient,
) -> None:
    case = (await api.post("/v1/cases", json=new_case())).json()
    other = (await api.post("/v1/cases", json=new_case())).json()
    path = f"/v1/cases/{case['id']}"
    resident = {"Authorization": f"Bearer {case['resident_token']}"}
    seen = (await api.get(path, headers=resident)).json()
    assert {"add_info", "chase"} <= set(seen["allowed_actions"])

    added = await api.post(
        f"{path}/add_info",
        json={"note": "又贴了一批", "photo_url": "https://photos.example/more.jpg"},
        headers=resident,
    )
    assert added.status_code == 200, added.text
    for n in (1, 2):  # the policy's two a day
        chased = await api.post(f"{path}/chase", json={}, headers=resident)
        assert chased.status_code == 200, chased.text
        assert chased.json()["chases"] == n
    third = await api.post(f"{path}/chase", json={"note": "还没来"}, headers=resident)
    assert third.status_code == 409 and "a day" in third.json()["error"]["message"]

    events = (await api.get(f"{path}/events", headers=resident)).json()
    assert [e["type"] for e in events][-3:] == ["add_info", "chase", "chase"]
    assert events[-3]["data"]["photo_url"] == "https://photos.example/more.jpg"

    foreign = {"Authorization": f"Bearer {other['resident_token']}"}
    assert (await api.post(f"{path}/chase", json={}, headers=foreign)).status_code == 404
    unit = bearer("unit_handler", unit=case["unit"])
    assert (await api.post(f"{path}/chase", json={}, headers=unit)).status_code == 403
    empty = await api.post(f"{path}/add_info", json={}, headers=resident)
    assert empty.status_code == 422 and empty.json()["error"]

"""The authorisation matrix: every role tries every action on a case of its own and on a
foreign one. A role without the action gets 403; a case outside its scope does not exist for it
(404); otherwise the action reaches the case (2xx, or 409/422 when the case's state or the body
says no). Expectations come from the permission table, plus a few spelled out by hand."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from domain.permissions import Principal, Role, may
from tests.conftest import bearer
from tests.integration.conftest import new_case

GLOBAL = {Role.dispatcher, Role.operator, Role.admin}
REACHED = "reached"  # not 401/403/404

# action -> (method, path suffix, body)
ACTIONS: dict[str, tuple[str, str, dict[str, Any]]] = {
    "read": ("GET", "", {}),
    "events": ("GET", "/events", {}),
    "accept": ("POST", "/accept", {}),
    "return": ("POST", "/return", {"reason": "不归我们管"}),
    "contact": ("POST", "/contact", {"note": "已联系"}),
    "progress": ("POST", "/progress", {"note": "进展"}),
    "reply": ("POST", "/reply", {"result": "已处理"}),
    "rate": ("POST", "/rate", {"grade": "satisfied"}),
    "urge": ("POST", "/urge", {"note": "请尽快"}),
    "escalate": ("POST", "/escalate", {"reason": "久拖"}),
    "suspend": ("POST", "/suspend", {"reason": "等材料"}),
    "request_extension": (
        "POST",
        "/request_extension",
        {"reason": "等配件", "due_at": "2030-01-01T00:00:00Z"},
    ),
    "approve_extension": ("POST", "/approve_extension", {}),
    "open_linkage": ("POST", "/open_linkage", {"reason": "多方协同", "agencies": ["DA-URBAN"]}),
    "resolve_on_site": (
        "POST",
        "/resolve_on_site",
        {"evidence_url": "https://photos.example/a.jpg", "note": "已处理"},
    ),
    "verify": ("POST", "/verify", {"fixed": True}),
    "confirm": ("POST", "/confirm", {}),
    "report": ("POST", "/linkage/report", {"agency": "DA-POLICE"}),
    "reject": ("POST", "/reject", {"reason": "非政府职责"}),
}

# Each role's own case is placed in its scope; its foreign case is elsewhere (community C02).
PRINCIPALS: dict[Role, dict[str, Any]] = {
    Role.dispatcher: {},
    Role.unit_handler: {"unit": "GT-C01-G01"},
    Role.grid_worker: {"grids": ("C01-G01",)},
    Role.supervisor: {"community": "C01"},
    Role.agency: {"unit": "DA-POLICE"},
    Role.operator: {},
    Role.admin: {},
    Role.resident: {},
}
OWN = {
    "location": {"address": "怡顺社区 1 号楼", "grid": "C01-G01"},
    "category": "sanitation.dead_corner",
}
AGENCY_OWN = {"category": "public_order.security_risk"}  # routed to DA-POLICE
FOREIGN = {
    "location": {"address": "沧口二社区", "grid": "C02-G01"},
    "category": "sanitation.dead_corner",
}


def expected(role: Role, action: str, own: bool) -> str | int:
    principal = Principal(subject="x", role=role, **PRINCIPALS[role])
    visible = own or role in GLOBAL
    if action in ("read", "events"):
        return REACHED if visible else 404
    if not may(principal, action):
        return 403
    return REACHED if visible else 404


async def file(api: httpx.AsyncClient, overrides: dict[str, Any]) -> dict[str, Any]:
    created = await api.post("/v1/cases", json=new_case(**overrides))
    assert created.status_code == 201, created.text
    return created.json()


@pytest.mark.parametrize("role", list(Role), ids=lambda r: r.value)
async def test_every_role_through_every_action(api: httpx.AsyncClient, role: Role) -> None:
    own = await file(api, AGENCY_OWN if role is Role.agency else OWN)
    foreign = await file(api, FOREIGN)
    token = {"own": bearer(role.value, **PRINCIPALS[role])}
    if role is Role.resident:  # a resident holds its own case's token, nothing else
        token = {"own": {"Authorization": f"Bearer {own['resident_token']}"}}
    mismatches = []
    for which, case in (("own", own), ("foreign", foreign)):
        for action, (method, suffix, body) in ACTIONS.items():
            response = await api.request(
                method,
                f"/v1/cases/{case['id']}{suffix}",
                json=body if method == "POST" else None,
                headers=token["own"],
            )
            got: str | int = response.status_code
            if got not in (401, 403, 404):
                got = REACHED
            if got != expected(role, action, which == "own"):
                mismatches.append(f"{role.value} {action} {which}: {response.status_code}")
    assert not mismatches, "\n".join(mismatches)


async def test_spelled_out_by_hand(api: httpx.AsyncClient) -> None:
    case = await file(api, OWN)
    path = f"/v1/cases/{case['id']}"
    handler = bearer("unit_handler", unit="GT-C01-G01")
    other_unit = bearer("unit_handler", unit="GT-C02-G01")
    assert (
        await api.post(f"{path}/accept", json={}, headers=bearer("dispatcher"))
    ).status_code == 403
    assert (await api.post(f"{path}/accept", json={}, headers=other_unit)).status_code == 404
    assert (await api.get(path, headers=other_unit)).status_code == 404
    accepted = await api.post(f"{path}/accept", json={}, headers=handler)
    assert accepted.status_code == 200
    events = (await api.get(f"{path}/events")).json()
    assert events[-1]["actor"] == "test-unit_handler@GT-C01-G01"  # who did it, for which unit
    assert (
        await api.post(f"{path}/urge", json={"note": "快"}, headers=bearer("operator"))
    ).status_code == 403
    assert (
        await api.get(
            "/v1/stats", params={"from": "2026-01-01", "to": "2026-01-31"}, headers=handler
        )
    ).status_code == 403
    mine = (await api.get("/v1/cases", headers=handler)).json()["items"]
    assert mine and all(c["unit"] == "GT-C01-G01" for c in mine)  # a unit lists its own cases


async def test_no_token_or_a_bad_one_is_401(api: httpx.AsyncClient) -> None:
    anonymous = await api.get("/v1/cases", headers={"Authorization": ""})
    assert anonymous.status_code == 401 and anonymous.headers["WWW-Authenticate"] == "Bearer"
    assert anonymous.json()["error"]["code"] == "not_authenticated"
    forged = await api.get("/v1/cases", headers={"Authorization": "Bearer not.a.token"})
    assert forged.status_code == 401
    assert (await api.get("/healthz", headers={"Authorization": ""})).status_code == 200

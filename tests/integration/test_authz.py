"""The authorisation matrix: every role tries every action on a case of its own and on a
foreign one, and gets the answer written out below: 403 when it may not take the action there,
404 when the case does not exist for it, R when the action reaches the case (2xx, or 409/422
when the case's state or the body says no). The table is written by hand from the README's
"who may do what", not read from the permission table it checks."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest
from temporalio.client import WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError
from temporalio.testing import WorkflowEnvironment

from domain.case import AcceptInput, Action, CaseView
from domain.permissions import Principal, Role
from tests.conftest import bearer
from tests.integration.conftest import new_case
from worker.stack import temporal_cli
from workflows.refusal import FORBIDDEN

# action -> (method, path suffix, body); the order of the matrix's columns.
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
    "dispute": ("POST", "/dispute", {"reason": "退单理由不成立"}),
    "rule_on_return": ("POST", "/rule_on_return", {"unit": "GT-C01-G01", "reason": "责任区内"}),
    "reopen": ("POST", "/reopen", {"reason": "问题又出现了"}),
}

# Who is asking. The committee is a handler of community C01's residents' committee; its own
# case is one of its community's, dispatched to the grid team GT-C01-G01.
PRINCIPALS: dict[str, tuple[Role, dict[str, Any]]] = {
    "dispatcher": (Role.dispatcher, {}),
    "unit_handler": (Role.unit_handler, {"unit": "GT-C01-G01"}),
    "committee": (Role.unit_handler, {"unit": "CO-C01"}),
    "grid_worker": (Role.grid_worker, {"grids": ("C01-G01",)}),
    "supervisor": (Role.supervisor, {"community": "C01"}),
    "agency": (Role.agency, {"unit": "DA-POLICE"}),
    "operator": (Role.operator, {}),
    "admin": (Role.admin, {}),
    "resident": (Role.resident, {}),  # holds its own case's resident_token
}
OWN = {
    "location": {"address": "怡顺社区 1 号楼", "grid": "C01-G01"},
    "category": "sanitation.dead_corner",  # routed to GT-C01-G01
}
AGENCY_OWN = {"category": "public_order.security_risk"}  # routed to DA-POLICE
FOREIGN = {
    "location": {"address": "沧口二社区", "grid": "C02-G01"},
    "category": "sanitation.dead_corner",
}

# fmt: off
#                  read events accept return contact progress reply rate urge escalate
#                  suspend request_ext approve_ext open_linkage resolve_on_site verify confirm
#                  report reject dispute rule_on_return reopen
MATRIX: dict[tuple[str, str], str] = {
    ("dispatcher", "own"):       "R R 403 403 403 403 403 R R R  403 403 403 R 403 403 403 403 R R 403 R",  # noqa: E501
    ("dispatcher", "foreign"):   "R R 403 403 403 403 403 R R R  403 403 403 R 403 403 403 403 R R 403 R",  # noqa: E501
    ("unit_handler", "own"):     "R R R R R R R 403 403 403      R R 403 403 403 403 R 403 403 403 403 403",  # noqa: E501
    ("unit_handler", "foreign"): "404 404 404 404 404 404 404 403 403 403 404 404 403 403 403 403 404 403 403 403 403 403",  # noqa: E501
    ("committee", "own"):        "R R 403 403 403 403 403 403 403 403 403 403 403 403 403 403 R 403 403 403 403 403",  # noqa: E501
    ("committee", "foreign"):    "404 404 404 404 404 404 404 403 403 403 404 404 403 403 403 403 404 403 403 403 403 403",  # noqa: E501
    ("grid_worker", "own"):      "R R 403 403 403 403 403 403 403 403 403 403 403 403 R R 403 403 403 403 403 403",  # noqa: E501
    ("grid_worker", "foreign"):  "404 404 403 403 403 403 403 403 403 403 403 403 403 403 404 404 403 403 403 403 403 403",  # noqa: E501
    ("supervisor", "own"):       "R R 403 403 403 403 403 403 R R 403 403 R R 403 403 R 403 403 403 403 R",  # noqa: E501
    ("supervisor", "foreign"):   "404 404 403 403 403 403 403 403 404 404 403 403 404 404 403 403 404 403 403 403 404 404",  # noqa: E501
    ("agency", "own"):           "R R 403 403 403 403 403 403 403 403 403 403 403 403 403 403 403 R 403 403 403 403",  # noqa: E501
    ("agency", "foreign"):       "404 404 403 403 403 403 403 403 403 403 403 403 403 403 403 403 403 404 403 403 403 403",  # noqa: E501
    ("operator", "own"):         "R R 403 403 403 403 403 403 403 403 403 403 403 403 403 403 403 403 403 403 403 403",  # noqa: E501
    ("operator", "foreign"):     "R R 403 403 403 403 403 403 403 403 403 403 403 403 403 403 403 403 403 403 403 403",  # noqa: E501
    ("admin", "own"):            "R R R R R R R R R R R R R R R R R R R R R R",
    ("admin", "foreign"):        "R R R R R R R R R R R R R R R R R R R R R R",
    ("resident", "own"):         "R R 403 403 403 403 403 R 403 403 403 403 403 403 403 403 403 403 403 403 403 R",  # noqa: E501
    ("resident", "foreign"):     "404 404 403 403 403 403 403 404 403 403 403 403 403 403 403 403 403 403 403 403 403 404",  # noqa: E501
}
# fmt: on


async def file(api: httpx.AsyncClient, overrides: dict[str, Any]) -> dict[str, Any]:
    created = await api.post("/v1/cases", json=new_case(**overrides))
    assert created.status_code == 201, created.text
    return created.json()


@pytest.mark.parametrize("who", list(PRINCIPALS))
async def test_every_role_through_every_action(api: httpx.AsyncClient, who: str) -> None:
    role, scope = PRINCIPALS[who]
    own = await file(api, AGENCY_OWN if role is Role.agency else OWN)
    foreign = await file(api, FOREIGN)
    token = bearer(role.value, **scope)
    if role is Role.resident:  # a resident holds its own case's token, nothing else
        token = {"Authorization": f"Bearer {own['resident_token']}"}
    mismatches = []
    for which, case in (("own", own), ("foreign", foreign)):
        expected = dict(zip(ACTIONS, MATRIX[who, which].split(), strict=True))
        for action, (method, suffix, body) in ACTIONS.items():
            response = await api.request(
                method,
                f"/v1/cases/{case['id']}{suffix}",
                json=body if method == "POST" else None,
                headers=token,
            )
            code = response.status_code
            got = str(code) if code in (401, 403, 404) or code >= 500 else "R"
            if got != expected[action]:
                mismatches.append(f"{who} {action} {which}: {code} {response.text[:120]}")
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


COMMITTEE = bearer("unit_handler", unit="CO-C01")


async def test_the_committee_reads_lists_and_confirms_but_does_not_handle(
    api: httpx.AsyncClient,
) -> None:
    """谁主管谁负责: the case is dispatched to the grid team; its community's committee may
    read it, find it in its list and confirm, but not sign for it."""
    case = await file(api, OWN)
    assert case["unit"] == "GT-C01-G01"
    path = f"/v1/cases/{case['id']}"
    seen = await api.get(path, headers=COMMITTEE)
    assert seen.status_code == 200
    assert seen.json()["allowed_actions"] == []  # dispatched: only the grid team acts now
    listed = (await api.get("/v1/cases", params={"limit": 200}, headers=COMMITTEE)).json()
    assert case["id"] in [c["id"] for c in listed["items"]]
    assert {c["community"] for c in listed["items"]} <= {"C01", None}
    refused = await api.post(f"{path}/accept", json={}, headers=COMMITTEE)
    assert refused.status_code == 403, refused.text
    assert (await api.get(path)).json()["status"] == "dispatched"


async def test_the_workflow_refuses_a_foreign_principal_sent_straight_to_it(
    api: httpx.AsyncClient, dev_server: WorkflowEnvironment
) -> None:
    """The same rule holds for whoever talks to Temporal directly, API or not."""
    case = await file(api, OWN)
    committee = Principal(subject="co-handler", role=Role.unit_handler, unit="CO-C01")
    handle = dev_server.client.get_workflow_handle(case["id"])
    with pytest.raises(WorkflowUpdateFailedError) as refused:
        await handle.execute_update(
            Action.accept.value, AcceptInput(principal=committee), result_type=CaseView
        )
    assert isinstance(refused.value.cause, ApplicationError)
    assert refused.value.cause.type == FORBIDDEN
    assert (await api.get(f"/v1/cases/{case['id']}")).json()["status"] == "dispatched"
    # Nor may anyone act without saying who they are (the Temporal UI's "Send an Update").
    with pytest.raises(WorkflowUpdateFailedError) as anonymous:
        await handle.execute_update(Action.accept.value, {}, result_type=CaseView)
    assert isinstance(anonymous.value.cause, ApplicationError)
    assert anonymous.value.cause.type == FORBIDDEN


async def test_allowed_actions_are_what_the_live_case_allows_this_caller(
    api: httpx.AsyncClient,
) -> None:
    """While a linkage is open the lead unit may not reply: the view says so, as the workflow
    does, and lists only what this caller may do."""
    body = new_case(category="petition.collective", title="多户居民集体反映物业问题")
    case = (await api.post("/v1/cases", json=body)).json()
    assert case["unit"] == "DA-PETITION" and case["linkage"]["status"] == "open"
    lead = bearer("unit_handler", unit="DA-PETITION")
    path = f"/v1/cases/{case['id']}"
    for action, payload in (("accept", {}), ("contact", {"note": "已联系"})):
        assert (await api.post(f"{path}/{action}", json=payload, headers=lead)).status_code == 200
    view = (await api.get(path, headers=lead)).json()
    assert "reply" not in view["allowed_actions"]
    assert view["allowed_actions"] == view["live"]["allowed_actions"]
    assert set(view["allowed_actions"]) == {"progress", "request_extension", "suspend"}
    refused = await api.post(f"{path}/reply", json={"result": "已处理"}, headers=lead)
    assert refused.status_code == 409
    supervisor = (await api.get(path, headers=bearer("supervisor"))).json()
    assert set(supervisor["allowed_actions"]) == {"urge", "escalate"}


async def test_a_taken_reference_gives_away_nothing(api: httpx.AsyncClient) -> None:
    """A hotline ticket number is guessable: filing it again shows the case only to those who
    may see it, and never mints another resident token."""
    body = new_case(channel="hotline", external_ref="HL-20261125-7781", **OWN)
    first = await api.post("/v1/cases", json=body, headers=bearer("dispatcher"))
    assert first.status_code == 201 and first.json()["resident_token"]
    for stranger in (bearer("resident"), bearer("grid_worker", grids=("C02-G01",))):
        taken = await api.post("/v1/cases", json=body, headers=stranger)
        assert taken.status_code == 409, taken.text
        assert taken.json()["error"]["code"] == "reference_taken"
        assert first.json()["id"] not in taken.text and "李先生" not in taken.text
    again = await api.post(
        "/v1/cases", json=body, headers=bearer("grid_worker", grids=("C01-G01",))
    )
    assert again.status_code == 200 and again.json()["id"] == first.json()["id"]
    assert again.json()["resident_token"] is None
    assert again.json()["reporter"]["phone"] == "13900000002"  # a grid worker of its grid


async def test_merge_checks_permission_before_looking_up_the_master(
    api: httpx.AsyncClient,
) -> None:
    case = await file(api, OWN)
    handler = bearer("unit_handler", unit="GT-C01-G01")
    for into in ("LC-2026-999999", case["id"]):  # unknown or not, the answer is the same
        merged = await api.post(
            f"/v1/cases/{case['id']}/merge", json={"into": into}, headers=handler
        )
        assert merged.status_code == 403, merged.text


async def test_an_update_sent_around_the_api_without_the_codec_is_refused(
    api: httpx.AsyncClient, dev_server: WorkflowEnvironment
) -> None:
    """`temporal workflow update execute` (or a UI's button) sends a plain payload: the data
    converter refuses it, so nothing a forged `actor` says reaches the case."""
    case = await file(api, OWN)
    process = await asyncio.create_subprocess_exec(
        temporal_cli(),
        "workflow",
        "update",
        "execute",
        "--address",
        dev_server.client.service_client.config.target_host,
        "--workflow-id",
        case["id"],
        "--name",
        "reject",
        "--input",
        '{"reason": "forged", "actor": "dispatcher"}',
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await process.communicate()
    assert process.returncode != 0, out.decode()
    assert "unable to update workflow" in (out + err).decode()  # rejected before its handler
    after = (await api.get(f"/v1/cases/{case['id']}")).json()
    assert after["status"] == "dispatched"
    events = (await api.get(f"/v1/cases/{case['id']}/events")).json()
    assert [e["type"] for e in events] == ["received", "dispatched"]

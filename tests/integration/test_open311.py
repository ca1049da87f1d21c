"""Open311 GeoReport v2 against the running API: an existing client (`georeport`, unchanged)
reads services and requests; requests are posted form-encoded as the spec says (the client has
no POST), and FixMyStreet's extensions (updates, discovery) are read over plain HTTP."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any
from xml.etree import ElementTree

import httpx
import pytest
from georeport import GeoReport
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.testing import WorkflowEnvironment

from api.main import create_app
from core.config import Settings
from tests.conftest import bearer, unique_queue
from tests.integration.conftest import app_settings, new_case, served
from worker.main import build_worker

KEY, OTHER_KEY = "test-open311-key", "test-open311-other"
FORM = {
    "api_key": KEY,
    "service_code": "utilities.water_outage",
    "lat": "36.18",
    "long": "120.41",
    "address_string": "沧口街道 怡顺路 12 号",
    "description": "整栋楼停水",
    "first_name": "明",
    "last_name": "李",
    "phone": "13900000011",
    "media_url": "https://photos.example/water.jpg",
    "attribute[households]": "48",
}


@pytest.fixture
async def server(
    settings: Settings, dev_server: WorkflowEnvironment, sessions: async_sessionmaker[AsyncSession]
) -> AsyncIterator[str]:
    """The API on a real socket (the client speaks plain HTTP), with a worker behind it."""
    queue = unique_queue()
    configured = app_settings(settings, dev_server, queue).model_copy(
        update={"open311_api_keys": [KEY, OTHER_KEY]}
    )
    async with (
        build_worker(dev_server.client, sessions, queue),
        served(create_app(configured)) as url,
    ):
        yield url


@pytest.fixture
def open311(server: str) -> str:
    return f"{server}/open311/v2"


async def client_call(fn: Any, *args: Any, **kwargs: Any) -> Any:
    return await asyncio.to_thread(fn, *args, **kwargs)  # georeport is synchronous (requests)


async def post(open311: str, form: dict[str, Any], **headers: str) -> httpx.Response:
    async with httpx.AsyncClient(base_url=open311) as http:
        return await http.post("/requests.json", data=form, headers=headers)


async def filed(open311: str, form: dict[str, Any], **headers: str) -> str:
    response = await post(open311, form, **headers)
    assert response.status_code == 201, response.text
    request_id: str = response.json()[0]["service_request_id"]
    return request_id


def refusal(response: httpx.Response) -> str:
    """The spec's error body, with the status in both places."""
    error = response.json()[0]
    assert error["code"] == response.status_code
    description: str = error["description"]
    return description


async def test_an_existing_client_reads_services_and_definitions(open311: str) -> None:
    client = GeoReport(open311)
    services = {s["service_code"]: s for s in await client_call(client.get_service_list)}
    assert services["utilities.water_outage"]["metadata"] is True
    assert services["utilities.water_outage"]["group"] == "utilities"
    assert services["sanitation.dead_corner"]["metadata"] is False
    assert "private.commercial_dispute" not in services  # not a government matter
    noise = await client_call(client.get_service_definition, "environment.noise")
    period, sources = noise["attributes"]
    assert (period["code"], period["datatype"], period["required"]) == (
        "period",
        "singlevaluelist",
        True,
    )
    assert [v["key"] for v in period["values"]] == ["day", "night"]
    assert (sources["datatype"], sources["required"]) == ("multivaluelist", False)

    xml = GeoReport(open311, output_format="xml")
    listed = await client_call(xml.get_service_list)
    assert any(s["service_code"] == "utilities.water_outage" for s in listed)


async def test_a_request_posted_form_encoded_is_a_case_the_client_can_follow(
    open311: str,
) -> None:
    request_id = await filed(open311, FORM)
    async with httpx.AsyncClient(base_url=open311) as http:
        # The spec's errors, with its status codes.
        no_key = await http.post("/requests.json", data={**FORM, "api_key": "wrong"})
        assert no_key.status_code == 403 and refusal(no_key)
        unknown = await http.post("/requests.json", data={**FORM, "service_code": "nope"})
        assert unknown.status_code == 404 and refusal(unknown)
        nowhere = {k: v for k, v in FORM.items() if k not in ("lat", "long", "address_string")}
        assert (await http.post("/requests.json", data=nowhere)).status_code == 400
        missing = await http.get("/requests/LC-2026-999999.xml")
        assert missing.status_code == 404 and b"<errors><error><code>404</code>" in missing.content
        token = (await http.get(f"/tokens/{request_id}.json")).json()[0]
        assert token["service_request_id"] == request_id
        bad_status = await http.get("/requests.json", params={"status": "pending"})
        assert bad_status.status_code == 400
        # A single jurisdiction: its id is accepted and ignored (service discovery says so).
        assert (await http.get("/services.json", params={"jurisdiction_id": "x"})).is_success

    client = GeoReport(open311)
    one = await client_call(client.get_service_request, request_id)
    assert one["status"] == "open" and one["service_code"] == "utilities.water_outage"
    assert one["agency_responsible"] and one["expected_datetime"].endswith("Z")
    assert (one["lat"], one["long"]) == (36.18, 120.41)
    assert "households: 48" in one["description"]
    assert one["media_url"] == "https://photos.example/water.jpg"
    assert "已派单" in one["status_notes"]  # a sentence for the step, not an internal code
    listed = await client_call(
        client.get_service_requests, service_code="utilities.water_outage", status="open"
    )
    assert request_id in [r["service_request_id"] for r in listed]
    several = await client_call(client.get_service_requests, service_request_id=request_id)
    assert [r["service_request_id"] for r in several] == [request_id]

    as_xml = await client_call(
        GeoReport(open311, output_format="xml").get_service_request, request_id
    )
    assert as_xml["service_request_id"] == request_id and as_xml["status"] == "open"


async def test_a_multi_value_answer_keeps_every_value(open311: str) -> None:
    noise = {
        **FORM,
        "service_code": "environment.noise",
        "description": "夜间施工噪音",
        "attribute[period]": "night",
        "attribute[sources][]": ["construction", "shop"],
    }
    request_id = await filed(open311, noise)
    one = await client_call(GeoReport(open311).get_service_request, request_id)
    assert "period: night" in one["description"]
    assert "sources: construction, shop" in one["description"]

    wrong = await post(open311, {**noise, "attribute[sources][]": ["construction", "fireworks"]})
    assert wrong.status_code == 400 and "fireworks" in refusal(wrong)
    twice = await post(open311, {**noise, "attribute[period]": ["day", "night"]})
    assert twice.status_code == 400 and "one value" in refusal(twice)


async def test_a_required_answer_is_enforced_and_nothing_is_filed_without_it(
    open311: str,
) -> None:
    heating = {
        **FORM,
        "service_code": "utilities.heating",
        "description": "暖气不热",
        "phone": "13900000012",
    }
    del heating["attribute[households]"]
    before = await client_call(
        GeoReport(open311).get_service_requests, service_code="utilities.heating"
    )
    missing = await post(open311, heating)
    assert missing.status_code == 400 and "room_temperature" in refusal(missing)
    not_a_number = await post(open311, {**heating, "attribute[room_temperature]": "cold"})
    assert not_a_number.status_code == 400 and "number" in refusal(not_a_number)
    after = await client_call(
        GeoReport(open311).get_service_requests, service_code="utilities.heating"
    )
    assert len(after) == len(before)

    request_id = await filed(open311, {**heating, "attribute[room_temperature]": "14"})
    one = await client_call(GeoReport(open311).get_service_request, request_id)
    assert "room_temperature: 14" in one["description"]


async def test_a_description_of_4000_characters_is_kept_whole(open311: str) -> None:
    long = "楼" * 3999 + "尾"
    request_id = await filed(open311, {**FORM, "description": long, "phone": "13900000013"})
    one = await client_call(GeoReport(open311).get_service_request, request_id)
    assert one["description"].startswith(long) and one["description"].endswith("households: 48")

    too_long = await post(open311, {**FORM, "description": long + "!"})
    assert too_long.status_code == 400 and "4000" in refusal(too_long)


async def test_a_retry_returns_the_first_case(open311: str) -> None:
    # A client that sends an idempotency key: the key decides, whatever the body says.
    first = await post(open311, {**FORM, "description": "水管爆裂"}, **{"Idempotency-Key": "fms-1"})
    again = await post(
        open311, {**FORM, "description": "水管爆裂!"}, **{"Idempotency-Key": "fms-1"}
    )
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json()[0]["service_request_id"] == first.json()[0]["service_request_id"]

    # A client that cannot: the same client's identical request within the window.
    plain = {**FORM, "description": "小区东门停水", "phone": "13900000014"}
    once, twice = await post(open311, plain), await post(open311, plain)
    assert (once.status_code, twice.status_code) == (201, 200)
    assert once.json()[0]["service_request_id"] == twice.json()[0]["service_request_id"]
    # A different report, or another client's, is a case of its own.
    other = await post(open311, {**plain, "description": "小区西门停水"})
    elsewhere = await post(open311, {**plain, "api_key": OTHER_KEY})
    ids = {r.json()[0]["service_request_id"] for r in (once, other, elsewhere)}
    assert (other.status_code, elsewhere.status_code, len(ids)) == (201, 201, 3)


async def test_updates_follow_the_case_and_status_notes_carry_the_unit_s_reply(
    server: str, open311: str
) -> None:
    start = datetime.now(UTC) - timedelta(seconds=1)
    request_id = await filed(open311, {**FORM, "description": "3 号楼停水", "phone": "13900000015"})
    reply = "已抢修完毕,恢复供水。如仍有问题请致电 0532-88886666"
    async with httpx.AsyncClient(base_url=server, headers=bearer()) as staff:
        for action, body in [
            ("accept", {}),
            ("contact", {"note": "已电话联系"}),
            ("reply", {"result": reply}),
            ("rate", {"grade": "satisfied", "solved": True}),
        ]:
            done = await staff.post(f"/v1/cases/{request_id}/{action}", json=body)
            assert done.status_code == 200, done.text
        hotline = await staff.post(
            "/v1/cases", json=new_case(description="电话 13900000016 报的案")
        )
        assert hotline.status_code == 201
    end = datetime.now(UTC) + timedelta(seconds=1)

    one = await client_call(GeoReport(open311).get_service_request, request_id)
    assert one["status"] == "closed"
    w3 = "%Y-%m-%dT%H:%M:%SZ"
    in_window = await client_call(
        GeoReport(open311).get_service_requests,
        start_date=(start - timedelta(seconds=1)).strftime(w3),
        end_date=end.strftime(w3),
        status="closed",
    )
    assert request_id in [r["service_request_id"] for r in in_window]
    earlier = await client_call(
        GeoReport(open311).get_service_requests,
        start_date=(start - timedelta(days=2)).strftime(w3),
        end_date=(start - timedelta(days=1)).strftime(w3),
    )
    assert request_id not in [r["service_request_id"] for r in earlier]
    assert one["status_notes"].startswith("已抢修完毕")  # the unit's own words
    assert one["status_notes"].endswith("请致电 053*****6666")  # a number typed in is masked

    window = {"start_date": start.isoformat(), "end_date": end.isoformat(), "api_key": KEY}
    async with httpx.AsyncClient(base_url=open311) as http:
        as_json = await http.get("/servicerequestupdates.json", params=window)
        as_xml = await http.get("/servicerequestupdates.xml", params=window)
        before = await http.get(
            "/servicerequestupdates.json",
            params={
                "start_date": (start - timedelta(days=1)).isoformat(),
                "end_date": start.isoformat(),
            },
        )
        hidden = await http.get(f"/requests/{hotline.json()['id']}.json")
    updates = [u for u in as_json.json() if u["service_request_id"] == request_id]
    # received, dispatched, accept, contact, reply, closed (the rating itself stays private)
    steps = ["open", "open", "in_progress", "in_progress", "in_progress", "closed"]
    assert [u["status"] for u in updates] == steps
    assert updates[4]["description"] == one["status_notes"]
    assert len({u["update_id"] for u in updates}) == len(steps)
    assert all(u["updated_datetime"].endswith("Z") for u in updates)
    assert not [u for u in as_json.json() if u["service_request_id"] == hotline.json()["id"]]
    assert request_id not in {u["service_request_id"] for u in before.json()}
    root = ElementTree.fromstring(as_xml.content)
    assert root.tag == "service_request_updates"
    in_xml = [e for e in root if e.findtext("service_request_id") == request_id]
    assert [e.findtext("status") for e in in_xml] == [u["status"] for u in updates]

    # Public reads publish Open311's own cases only: a hotline case is not there.
    assert hidden.status_code == 404


async def test_discovery_tells_a_client_where_the_endpoint_is(server: str) -> None:
    async with httpx.AsyncClient(base_url=server) as http:
        as_json = (await http.get("/open311/discovery.json")).json()
        as_xml = ElementTree.fromstring((await http.get("/open311/discovery.xml")).content)
    endpoint = as_json["endpoints"][0]
    assert endpoint["url"] == f"{server}/open311/v2"
    assert endpoint["specification"] == "http://wiki.open311.org/GeoReport_v2"
    assert set(endpoint["formats"]) == {"application/json", "text/xml"}
    assert "jurisdiction_id" in as_json["contact"]
    assert as_xml.findtext("endpoints/endpoint/url") == f"{server}/open311/v2"
    assert [f.text for f in as_xml.iterfind("endpoints/endpoint/formats/format")] == [
        "application/json",
        "text/xml",
    ]


async def test_hostile_parameters_get_the_spec_s_4xx(open311: str) -> None:
    async with httpx.AsyncClient(base_url=open311) as http:
        ancient = await http.get("/requests.json", params={"start_date": "0001-01-01T00:00:00Z"})
        nul = await http.get("/requests.json", params={"service_request_id": "LC\x00"})
        upside_down = await http.get(
            "/servicerequestupdates.json",
            params={"start_date": "2026-02-01T00:00:00Z", "end_date": "2026-01-01T00:00:00Z"},
        )
        posted_nul = await http.post("/requests.json", data={**FORM, "description": "停\x00水"})
        in_paths = [
            await http.get(path)
            for path in ("/requests/LC%00.json", "/tokens/%00.json", "/services/a%00b.json")
        ]
    for response in (ancient, nul, upside_down, posted_nul, *in_paths):
        assert response.status_code == 400 and refusal(response)


async def test_an_email_is_enough_and_is_kept_for_the_unit(server: str, open311: str) -> None:
    email_only = {k: v for k, v in FORM.items() if k != "phone"}
    email_only |= {"email": "li.ming@example.com", "description": "只留了邮箱"}
    request_id = await filed(open311, email_only)
    async with httpx.AsyncClient(base_url=server) as http:
        staff = await http.get(f"/v1/cases/{request_id}", headers=bearer("dispatcher"))
        masked = await http.get(f"/v1/cases/{request_id}", headers=bearer("operator"))
    assert staff.json()["reporter"] == {
        "name": "明 李",
        "phone": None,
        "email": "li.ming@example.com",
    }
    assert masked.json()["reporter"]["email"] == "l***@example.com"

    nothing = await post(open311, {k: v for k, v in FORM.items() if k != "phone"})
    assert nothing.status_code == 400
    assert "a phone number or an email address is required" in refusal(nothing)
    typo = await post(open311, {**email_only, "email": "li.ming@"})
    assert typo.status_code == 400 and "email" in refusal(typo)


async def test_the_contact_rule_is_the_jurisdiction_s_setting(
    settings: Settings, dev_server: WorkflowEnvironment
) -> None:
    phone_rule = app_settings(settings, dev_server, unique_queue()).model_copy(
        update={"open311_api_keys": [KEY], "contact_rule": "phone"}
    )
    email_only = {k: v for k, v in FORM.items() if k != "phone"} | {"email": "li@example.com"}
    async with served(create_app(phone_rule)) as url:
        refused = await post(f"{url}/open311/v2", email_only)
        async with httpx.AsyncClient(base_url=url) as http:
            discovery = (await http.get("/open311/discovery.json")).json()
    assert refused.status_code == 400 and "a phone number is required" in refusal(refused)
    assert "the reporter's phone number" in discovery["contact"]

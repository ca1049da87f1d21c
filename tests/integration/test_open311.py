"""Open311 GeoReport v2 against the running API: an existing client (`georeport`, unchanged)
reads services and requests; a request is posted form-encoded as the spec says."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from georeport import GeoReport
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.testing import WorkflowEnvironment

from api.main import create_app
from core.config import Settings
from tests.conftest import unique_queue
from tests.integration.conftest import app_settings, served
from worker.main import build_worker

KEY = "test-open311-key"


@pytest.fixture
async def open311(
    settings: Settings, dev_server: WorkflowEnvironment, sessions: async_sessionmaker[AsyncSession]
) -> AsyncIterator[str]:
    """The API on a real socket (the client speaks plain HTTP), with a worker behind it."""
    queue = unique_queue()
    configured = app_settings(settings, dev_server, queue).model_copy(
        update={"open311_api_keys": [KEY]}
    )
    async with (
        build_worker(dev_server.client, sessions, queue),
        served(create_app(configured)) as url,
    ):
        yield f"{url}/open311/v2"


async def client_call(fn: Any, *args: Any, **kwargs: Any) -> Any:
    return await asyncio.to_thread(fn, *args, **kwargs)  # georeport is synchronous (requests)


async def test_an_existing_client_reads_services_and_definitions(open311: str) -> None:
    client = GeoReport(open311)
    services = {s["service_code"]: s for s in await client_call(client.get_service_list)}
    assert services["utilities.water_outage"]["metadata"] is True
    assert services["utilities.water_outage"]["group"] == "utilities"
    assert services["sanitation.dead_corner"]["metadata"] is False
    assert "private.commercial_dispute" not in services  # not a government matter
    noise = await client_call(client.get_service_definition, "environment.noise")
    period = noise["attributes"][0]
    assert (period["code"], period["datatype"], period["required"]) == (
        "period",
        "singlevaluelist",
        True,
    )
    assert [v["key"] for v in period["values"]] == ["day", "night"]

    xml = GeoReport(open311, output_format="xml")
    listed = await client_call(xml.get_service_list)
    assert any(s["service_code"] == "utilities.water_outage" for s in listed)


async def test_a_request_posted_form_encoded_is_a_case_the_client_can_follow(
    open311: str,
) -> None:
    form = {
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
    async with httpx.AsyncClient(base_url=open311) as http:
        created = await http.post("/requests.json", data=form)
        assert created.status_code == 201, created.text
        request_id = created.json()[0]["service_request_id"]
        assert created.json()[0]["service_notice"]

        # The spec's errors, with its status codes.
        no_key = await http.post("/requests.json", data={**form, "api_key": "wrong"})
        assert no_key.status_code == 403 and no_key.json()[0]["code"] == 403
        unknown = await http.post("/requests.json", data={**form, "service_code": "nope"})
        assert unknown.status_code == 404 and unknown.json()[0]["description"]
        nowhere = {k: v for k, v in form.items() if k not in ("lat", "long", "address_string")}
        assert (await http.post("/requests.json", data=nowhere)).status_code == 400
        no_phone = {k: v for k, v in form.items() if k != "phone"}
        assert (
            "phone" in (await http.post("/requests.json", data=no_phone)).json()[0]["description"]
        )
        missing = await http.get("/requests/LC-2026-999999.xml")
        assert missing.status_code == 404 and b"<errors><error><code>404</code>" in missing.content
        token = (await http.get(f"/tokens/{request_id}.json")).json()[0]
        assert token["service_request_id"] == request_id
        bad_status = await http.get("/requests.json", params={"status": "pending"})
        assert bad_status.status_code == 400

    client = GeoReport(open311)
    one = await client_call(client.get_service_request, request_id)
    assert one["status"] == "open" and one["service_code"] == "utilities.water_outage"
    assert one["agency_responsible"] and one["expected_datetime"].endswith("Z")
    assert (one["lat"], one["long"]) == (36.18, 120.41)
    assert "households: 48" in one["description"]
    assert one["media_url"] == "https://photos.example/water.jpg"
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

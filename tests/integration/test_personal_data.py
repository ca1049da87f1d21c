"""No resident's name or phone in Temporal's history, not even encrypted: intake keeps them in
PostgreSQL; the raw history, read without the key, shows ciphertext only; the codec server shows
an authorised operator the plaintext."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from google.protobuf import json_format
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from temporalio.api.common.v1 import Payloads
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from api.console.session import SESSION_COOKIE
from api.main import create_app
from core.config import Settings
from db.session import make_engine
from tests.conftest import bearer
from tests.integration.conftest import app_settings, new_case
from worker.cli import laptop_only


async def test_the_raw_history_holds_no_phone_number_and_the_codec_server_decodes_it(
    api: httpx.AsyncClient, dev_server: WorkflowEnvironment
) -> None:
    case = (await api.post("/v1/cases", json=new_case())).json()
    await api.post(f"/v1/cases/{case['id']}/accept", json={})
    # Read as anyone with access to the server would: no codec.
    keyless = await Client.connect(dev_server.client.service_client.config.target_host)
    history = await keyless.get_workflow_handle(case["id"]).fetch_history()
    raw = history.to_json()
    assert "13900000002" not in raw and "李先生" not in raw
    started = history.events[0].workflow_execution_started_event_attributes
    assert started.input.payloads[0].metadata["encoding"] == b"binary/encrypted"

    body = json_format.MessageToJson(started.input)
    decoded = await api.post("/codec/decode", content=body)
    assert decoded.status_code == 200, decoded.text
    payloads = json_format.Parse(decoded.text, Payloads()).payloads
    # What the operator sees decoded is what the case is about, never who reported it: the
    # reporter stays in PostgreSQL, where the API shows it to those who may see it.
    assert case["id"].encode() in payloads[0].data and b"13900000002" not in payloads[0].data
    assert (await api.get(f"/v1/cases/{case['id']}")).json()["reporter"]["phone"] == "13900000002"
    garbage = await api.post("/codec/decode", content=b"{not json")
    assert garbage.status_code == 422 and garbage.json()["error"]["code"] == "invalid_payloads"


async def test_the_codec_server_wants_an_operator_and_lets_the_ui_origin_in(
    settings: Settings, dev_server: WorkflowEnvironment, sessions: Any
) -> None:
    configured = app_settings(settings, dev_server, "unused")
    app = create_app(configured)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client,
    ):
        empty = '{"payloads": []}'
        assert (await client.post("/codec/decode", content=empty)).status_code == 401
        as_dispatcher = await client.post(
            "/codec/decode", content=empty, headers=bearer("dispatcher")
        )
        assert as_dispatcher.status_code == 403
        as_operator = await client.post("/codec/decode", content=empty, headers=bearer("operator"))
        assert as_operator.status_code == 200
        # A Temporal UI that includes credentials sends the console's session cookie instead.
        for role, status in (("dispatcher", 403), ("operator", 200)):
            token = bearer(role)["Authorization"].removeprefix("Bearer ")
            client.cookies.set(SESSION_COOKIE, token)
            assert (await client.post("/codec/decode", content=empty)).status_code == status
        client.cookies.clear()
        # The banner prints 127.0.0.1; a browser may also say localhost: both are the UI.
        for origin in ("http://127.0.0.1:8233", "http://localhost:8233"):
            preflight = await client.options(
                "/codec/decode",
                headers={
                    "Origin": origin,
                    "Access-Control-Request-Method": "POST",
                    "Access-Control-Request-Headers": "authorization,content-type,x-namespace",
                },
            )
            assert preflight.headers["access-control-allow-origin"] == origin
        elsewhere = await client.options(
            "/codec/decode",
            headers={"Origin": "http://evil.example", "Access-Control-Request-Method": "POST"},
        )
        assert "access-control-allow-origin" not in elsewhere.headers


async def test_a_phone_number_is_masked_for_roles_that_do_not_need_it(
    api: httpx.AsyncClient,
) -> None:
    case = (await api.post("/v1/cases", json=new_case())).json()
    assert case["reporter"]["phone"] == "13900000002"  # admin
    supervisor = await api.get(f"/v1/cases/{case['id']}", headers=bearer("supervisor"))
    assert supervisor.json()["reporter"]["phone"] == "139****0002"
    resident = {"Authorization": f"Bearer {case['resident_token']}"}
    own = await api.get(f"/v1/cases/{case['id']}", headers=resident)
    assert own.json()["reporter"]["phone"] == "13900000002"


async def test_a_failed_statement_does_not_repeat_its_values(settings: Settings) -> None:
    """A database error's text lands in logs and activity failures: the statement's values (a
    row's name and phone beside the value that failed) stay out of it."""
    engine = make_engine(settings)
    try:
        async with engine.connect() as connection:
            with pytest.raises(DBAPIError) as failed:
                await connection.execute(
                    text("select cast(:title as integer), :name, :phone"),
                    {"title": "not a number", "name": "李先生", "phone": "13900000002"},
                )
    finally:
        await engine.dispose()
    assert "13900000002" not in str(failed.value) and "李先生" not in str(failed.value)


@pytest.mark.parametrize(
    ("external", "anonymous_status"), [(True, 401), (False, 200)], ids=["external", "laptop"]
)
async def test_gridcase_up_opens_the_codec_server_to_anonymous_callers_only_on_the_laptop(
    settings: Settings, dev_server: WorkflowEnvironment, external: bool, anonymous_status: int
) -> None:
    # Even an environment that asks for an open codec server and the demo sign-in gets neither
    # when `up` runs against an external Temporal server.
    asked = settings.model_copy(update={"codec_open": True, "demo_signin": True})
    if external:
        asked = app_settings(asked, dev_server, "unused")
    else:
        asked = asked.model_copy(update={"temporal_address": None})
    chosen = laptop_only(asked)
    assert chosen.demo_signin is not external
    app = create_app(chosen)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client,
    ):
        anonymous = await client.post("/codec/decode", content='{"payloads": []}')
    assert anonymous.status_code == anonymous_status

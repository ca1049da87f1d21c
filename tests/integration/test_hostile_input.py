"""Hostile input gets a clear 4xx in gridcase's error shape, never a 5xx and never a
half-written case: control characters anywhere, numbers and dates past what PostgreSQL holds,
forged cursors, bodies that lie about their size, tokens with malformed claims, and the
framework's own errors (unknown route, wrong method, unparseable body)."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import jwt
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.config import Settings
from db.models import Case, CaseIntakeKey
from tests.conftest import bearer
from tests.integration.conftest import new_case


def refused(response: httpx.Response, *statuses: int) -> dict[str, Any]:
    """The answer is one of `statuses` (4xx), with gridcase's error body."""
    assert response.status_code in statuses, (response.status_code, response.text[:300])
    error: dict[str, Any] = response.json()["error"]
    assert error["code"] and error["message"]
    return error


def cursor(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode()


async def counts(sessions: async_sessionmaker[AsyncSession]) -> tuple[int, int]:
    async with sessions() as session:
        cases = await session.scalar(select(func.count()).select_from(Case))
        keys = await session.scalar(select(func.count()).select_from(CaseIntakeKey))
    return int(cases or 0), int(keys or 0)


@pytest.mark.parametrize(
    "body",
    [
        new_case(title="小广告\u0000"),
        new_case(description="line one\u0007bell"),
        new_case(external_ref="HL-\u0000-1"),
        new_case(reporter={"name": "李\u001b先生", "phone": "13900000002"}),
        new_case(location={"address": "怡顺社区\u0000", "grid": "C01-G02"}),
    ],
    ids=["nul-title", "bell-description", "nul-ref", "escape-name", "nul-address"],
)
async def test_control_characters_in_a_body_are_refused_and_nothing_is_written(
    api: httpx.AsyncClient, sessions: async_sessionmaker[AsyncSession], body: dict[str, Any]
) -> None:
    before = await counts(sessions)
    refused(await api.post("/v1/cases", json=body), 422)
    assert await counts(sessions) == before


async def test_tabs_and_newlines_are_text(api: httpx.AsyncClient) -> None:
    created = await api.post("/v1/cases", json=new_case(description="第一行\n第二行\t(附注)"))
    assert created.status_code == 201, created.text
    note = {"note": "已电话联系\r\n约好明天上门"}
    case_id = created.json()["id"]
    accepted = await api.post(f"/v1/cases/{case_id}/accept", json={})
    assert accepted.status_code == 200
    assert (await api.post(f"/v1/cases/{case_id}/contact", json=note)).status_code == 200


async def test_a_control_character_in_an_action_note_is_refused(api: httpx.AsyncClient) -> None:
    case_id = (await api.post("/v1/cases", json=new_case())).json()["id"]
    refused(await api.post(f"/v1/cases/{case_id}/accept", json={"note": "好\u0000"}), 422)
    # The case is not wedged: the next action still goes through.
    assert (await api.post(f"/v1/cases/{case_id}/accept", json={})).status_code == 200


@pytest.mark.parametrize(
    "path",
    [
        "/v1/cases?community=%00",
        "/v1/cases?q=a%00b",
        "/v1/cases?grid=C01%1fG01",
        "/v1/cases/LC-2026-000001%00",
        "/v1/cases/%00/events",
        "/v1/stats?from=2026-01-01%00&to=2026-01-31",
        "/v1/reviews?unit=%00",
    ],
)
async def test_control_characters_in_paths_and_queries_are_refused(
    api: httpx.AsyncClient, path: str
) -> None:
    error = refused(await api.get(path), 400)
    assert error["code"] == "control_character"


async def test_open311_clients_get_the_refusal_in_their_spec_s_shape(
    api: httpx.AsyncClient,
) -> None:
    for path in ("/open311/v2/requests/%00.json", "/open311/v2/requests.json?status=%00"):
        response = await api.get(path)
        assert response.status_code == 400
        assert response.json()[0]["code"] == 400 and response.json()[0]["description"]


@pytest.mark.parametrize(
    "query",
    [
        {"before": str(2**63)},
        {"before": "99999999999999999999999"},
        {"limit": str(2**64)},
        {"due_before": "9999-12-31T23:59:59-23:59"},
        {"due_before": "0001-01-01T00:00:00+14:00"},
        {"due_before": "2026-01-01T00:00:00"},  # naive: a local time, answered
        {"sort": "due", "cursor": cursor("0001-01-01T00:00:00+14:00|1")},
        {"sort": "due", "cursor": cursor(f"2026-01-01T00:00:00+00:00|{2**63}")},
        {"sort": "due", "cursor": cursor("2026-01-01T00:00:00|1")},
        {"sort": "due", "cursor": "%%%"},
        {"sort": "due", "cursor": cursor("\u00ff\u00fe|x")},
    ],
)
async def test_numbers_and_dates_past_what_the_database_holds_are_4xx(
    api: httpx.AsyncClient, query: dict[str, str]
) -> None:
    response = await api.get("/v1/cases", params=query)
    if query.get("due_before") == "2026-01-01T00:00:00" or query.get("cursor", "").startswith(
        cursor("2026-01-01T00:00:00|")[:8]
    ):
        assert response.status_code in (200, 422), response.text
        return
    refused(response, 422)


@pytest.mark.parametrize(
    ("start", "end"),
    [
        ("9999-12-31", "9999-12-31"),
        ("0001-01-01", "0001-01-02"),
        ("0001-01-01T00:00:00+14:00", "0001-01-03"),
        ("9999-12-30T00:00:00-23:59", "9999-12-31T23:00:00-23:59"),
    ],
)
async def test_statistics_of_impossible_periods_are_4xx(
    api: httpx.AsyncClient, start: str, end: str
) -> None:
    refused(await api.get("/v1/stats", params={"from": start, "to": end}), 422)


async def test_unknown_routes_wrong_methods_and_bad_bodies_answer_in_one_shape(
    api: httpx.AsyncClient,
) -> None:
    assert refused(await api.get("/v1/nothing-here"), 404)["code"] == "not_found"
    assert refused(await api.delete("/v1/cases"), 405)["code"] == "method_not_allowed"
    unparseable = await api.post(
        "/v1/cases", content=b'{"channel": ', headers={"Content-Type": "application/json"}
    )
    refused(unparseable, 422, 400)
    not_json = await api.post(
        "/v1/cases", content=b"\xff\xfe", headers={"Content-Type": "application/json"}
    )
    refused(not_json, 422, 400)


@pytest.mark.parametrize(
    "claims",
    [
        {"role": "grid_worker", "grids": 5},
        {"role": "grid_worker", "grids": "C01-G01"},
        {"role": "unit_handler", "unit": {"code": "GT-C01-G01"}},
        {"role": "no_such_role"},
        {"role": ["admin"]},
        {"role": "supervisor", "community": 7},
        {"role": "resident", "case": ["LC-2026-000001"]},
    ],
)
async def test_a_validly_signed_token_with_a_malformed_claim_is_401(
    api: httpx.AsyncClient, settings: Settings, claims: dict[str, Any]
) -> None:
    now = datetime.now(UTC)
    token = jwt.encode(
        {
            "iss": settings.jwt_issuer,
            "aud": settings.jwt_audience,
            "sub": "forged",
            "iat": now,
            "exp": now + timedelta(hours=1),
            **claims,
        },
        settings.jwt_secret or "",
    )
    response = await api.get("/v1/cases", headers={"Authorization": f"Bearer {token}"})
    assert refused(response, 401)["code"] == "not_authenticated"


async def chunks(body: bytes, size: int = 64 * 1024) -> AsyncIterator[bytes]:
    for start in range(0, len(body), size):
        yield body[start : start + size]


async def test_a_chunked_body_over_the_limit_is_413(
    api: httpx.AsyncClient, settings: Settings
) -> None:
    big = b'{"title": "' + b"x" * (settings.max_body_bytes + 10) + b'"}'
    # A streamed body has no Content-Length: only counting the bytes as they come catches it.
    response = await api.post(
        "/v1/cases", content=chunks(big), headers={"Content-Type": "application/json"}
    )
    assert refused(response, 413)["code"] == "body_too_large"
    lying = await api.post(
        "/v1/cases",
        content=chunks(big),
        headers={"Content-Type": "application/json", "Content-Length": "100"},
    )
    assert lying.status_code in (400, 413)
    small = await api.post(
        "/v1/cases",
        content=chunks(httpx.Request("POST", "/", json=new_case()).content, size=7),
        headers={"Content-Type": "application/json", **bearer()},
    )
    assert small.status_code == 201, small.text

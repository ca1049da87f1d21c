"""POST /v1/policies/whatif over hand-made February 2022 cases (a period no other test files
into): the recorded figures agree with /v1/stats, a tighter accept limit makes the signed-for
cases late and overdue, a shorter rating window closes cases before their recorded rating, and
nothing recorded changes."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from api.main import create_app
from core.config import Settings
from db.generate import CaseSpec, insert_cases, load_reference
from db.models import CaseEventRow
from domain.calendar import SUBDISTRICT_TZ
from tests.conftest import bearer

PERIOD = {"from": "2022-02-14", "to": "2022-02-27"}


def spec(**overrides: Any) -> CaseSpec:
    at = datetime(2022, 2, 16, 10, tzinfo=SUBDISTRICT_TZ)  # a Wednesday after the Spring Festival
    return CaseSpec(
        **{"received_at": at, "category": "sanitation.dead_corner", "grid": "C04-G01"} | overrides
    )


FEBRUARY = [
    spec(),
    spec(grid="C04-G02"),
    spec(accept_late=True),  # late already as recorded
    spec(grade=None, solved=None),  # nobody rated: closed unrated
]


@pytest.fixture(scope="module")
async def february(sessions: async_sessionmaker[AsyncSession]) -> list[str]:
    async with sessions.begin() as session:
        ref = await load_reference(session)
        return await insert_cases(
            session, ref, FEBRUARY, as_of=datetime(2022, 4, 1, tzinfo=SUBDISTRICT_TZ)
        )


@pytest.fixture
async def api(settings: Settings, sessions: async_sessionmaker[AsyncSession]) -> Any:
    """The what-if reads only PostgreSQL: the app without its lifespan (no Temporal)."""
    app = create_app(settings)
    app.state.settings, app.state.sessions = settings, sessions
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://test", headers=bearer("operator")
    ) as client:
        yield client


async def what_if(api: httpx.AsyncClient, **change: Any) -> httpx.Response:
    body = {**PERIOD, "policy": "SLA-NORMAL", "change": change}
    return await api.post("/v1/policies/whatif", json=body)


async def test_the_recorded_policy_gives_back_the_recorded_figures(
    api: httpx.AsyncClient, february: list[str]
) -> None:
    body = (await what_if(api)).json()
    assert body["cases"] == 4 and body["diverged"] == 0
    assert body["proposed"] == body["recorded"]
    assert all(row["proposed"] == row["recorded"] for row in body["rows"])
    # Played up to the record's latest event, which is at least the last of these cases'.
    assert datetime.fromisoformat(body["until"]) > datetime(2022, 2, 16, tzinfo=SUBDISTRICT_TZ)


async def test_a_tighter_accept_limit_tried_on_the_past(
    api: httpx.AsyncClient, february: list[str], sessions: async_sessionmaker[AsyncSession]
) -> None:
    async with sessions() as session:
        events_before = await session.scalar(select(func.count()).select_from(CaseEventRow))
    got = await what_if(api, accept="1m")
    assert got.status_code == 200, got.text
    body = got.json()
    assert body["cases"] == 4 and "same moments" in body["assumption"]
    stats = (await api.get("/v1/stats", params=PERIOD)).json()["total"]["counts"]
    recorded = body["recorded"]
    # As recorded, the what-if's figures are the statistics' (the same cases, the same model).
    for name in ("dispatched", "accepted_on_time", "replied", "replied_on_time", "overdue"):
        assert recorded[name] == stats[name], name
    assert recorded["accepted_on_time"] == 3
    proposed = body["proposed"]
    assert (proposed["accepted_on_time"], proposed["overdue"]) == (0, 4)
    assert proposed["response"] == {"value": 0.0, "numerator": 0, "denominator": 4}
    assert proposed["escalation_steps"] > recorded["escalation_steps"]
    assert {(r["unit"], r["category"]) for r in body["rows"]} == {
        ("GT-C04-G01", "sanitation.dead_corner"),
        ("GT-C04-G02", "sanitation.dead_corner"),
    }
    async with sessions() as session:
        events_after = await session.scalar(select(func.count()).select_from(CaseEventRow))
    assert events_after == events_before  # nothing recorded changed


async def test_a_shorter_rating_window_closes_cases_before_their_rating(
    api: httpx.AsyncClient, february: list[str]
) -> None:
    body = (await what_if(api, rating_window="1h")).json()
    # The generator's residents rate 20 h after the reply: three ratings come too late.
    assert body["diverged"] == 3
    assert (body["recorded"]["closed_unrated"], body["proposed"]["closed_unrated"]) == (1, 4)


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({**PERIOD, "policy": "SLA-NOPE", "change": {}}, 422, "invalid_reference"),
        ({**PERIOD, "policy": "SLA-NORMAL", "change": {"accept": "soon"}}, 422, "invalid_request"),
        (
            {"from": "2022-03-01", "to": "2022-02-01", "policy": "SLA-NORMAL", "change": {}},
            422,
            "invalid_query",
        ),
    ],
)
async def test_bad_proposals_are_422_with_the_reason(
    api: httpx.AsyncClient, body: dict[str, Any], status: int, code: str
) -> None:
    got = await api.post("/v1/policies/whatif", json=body)
    assert got.status_code == status and got.json()["error"]["code"] == code


async def test_a_unit_may_not_ask(api: httpx.AsyncClient) -> None:
    body = {**PERIOD, "policy": "SLA-NORMAL", "change": {}}
    got = await api.post(
        "/v1/policies/whatif", json=body, headers=bearer("unit_handler", unit="GT-C04-G01")
    )
    assert got.status_code == 403

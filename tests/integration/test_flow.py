"""GET /v1/flow over hand-made September 2022 cases (a period no other test files into): time in
each state, hand-offs, breaches by grid and the ageing of what is still open, scoped like the
statistics, as JSON and CSV."""

from __future__ import annotations

import csv
import io
from datetime import datetime
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from api.main import create_app
from core.config import Settings
from db.generate import CaseSpec, insert_cases, load_reference
from domain.calendar import SUBDISTRICT_TZ
from tests.conftest import bearer

PERIOD = {"from": "2022-09-01", "to": "2022-09-30"}


def at(day: int, hour: int = 10) -> datetime:
    return datetime(2022, 9, day, hour, tzinfo=SUBDISTRICT_TZ)


def spec(**overrides: Any) -> CaseSpec:
    return CaseSpec(
        **{"received_at": at(5), "category": "sanitation.dead_corner", "grid": "C03-G01"}
        | overrides
    )


SEPTEMBER = [
    spec(),  # closed in time
    spec(returned=True),  # returned once, then reassigned to the committee: two hand-offs
    spec(grid="C05-G01", accept_late=True, reply_late=True),  # two deadlines missed
    spec(received_at=at(30, 23)),  # still open on 1 October, and ever since
]


@pytest.fixture(scope="module")
async def september(sessions: async_sessionmaker[AsyncSession]) -> list[str]:
    async with sessions.begin() as session:
        ref = await load_reference(session)
        return await insert_cases(
            session, ref, SEPTEMBER, as_of=datetime(2022, 10, 1, 0, 30, tzinfo=SUBDISTRICT_TZ)
        )


@pytest.fixture
async def app(settings: Settings, sessions: async_sessionmaker[AsyncSession]) -> Any:
    """Flow reads only PostgreSQL: the app without its lifespan (no Temporal)."""
    app = create_app(settings)
    app.state.settings, app.state.sessions = settings, sessions
    return app


async def get_flow(app: Any, headers: dict[str, str], **extra: str) -> httpx.Response:
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://test", headers=headers
    ) as client:
        return await client.get("/v1/flow", params={**PERIOD, **extra})


@pytest.fixture
def operator() -> dict[str, str]:
    return bearer("operator")


async def test_flow_of_a_month(app: Any, september: list[str], operator: dict[str, str]) -> None:
    got = await get_flow(app, operator)
    assert got.status_code == 200, got.text
    body = got.json()
    assert body["cases"] == 4
    states = {(r["unit"], r["state"]): r for r in body["time_in_state"]}
    # The generator dispatches three minutes after receipt: every case waited 0.05 h.
    received = states[(None, "received")]
    assert (received["stays"], received["p50_hours"], received["p90_hours"]) == (4, 0.05, 0.05)
    assert ("CO-C03", "dispatched") in states  # the committee, after the return
    assert states[("GT-C03-G01", "returned")]["stays"] == 1
    handoffs = {r["category"]: r for r in body["handoffs"]}
    assert handoffs["sanitation.dead_corner"] == {
        "category": "sanitation.dead_corner",
        "cases": 4,
        "handoffs": 2,
        "per_case": 0.5,
    }
    # The grid team returned it; then the dispatcher (None) sent it to the committee.
    assert body["handoffs_by_unit"] == [
        {"unit": "GT-C03-G01", "handoffs": 1},
        {"unit": None, "handoffs": 1},
    ]
    assert body["breaches"] == [
        {"grid": "C05-G01", "community": "C05", "cases": 1, "breached_cases": 1, "breaches": 2}
    ]
    assert body["backlog_total"] == {"0-1": 0, "1-3": 0, "3-7": 0, "7-15": 0, "over 15": 1}
    assert body["backlog"] == [{"unit": "GT-C03-G01", "bucket": "over 15", "cases": 1}]


async def test_a_community_supervisor_sees_its_community_only(
    app: Any, september: list[str]
) -> None:
    c05 = (await get_flow(app, bearer("supervisor", community="C05"))).json()
    assert c05["cases"] == 1 and c05["handoffs_per_case"] == 0.0
    assert [b["grid"] for b in c05["breaches"]] == ["C05-G01"]
    c03 = (await get_flow(app, bearer("supervisor", community="C03"))).json()
    assert c03["cases"] == 3 and c03["breaches"] == []
    handler = await get_flow(app, bearer("unit_handler", unit="GT-C03-G01"))
    assert handler.status_code == 403


async def test_csv_has_one_line_per_row_of_every_table(
    app: Any, september: list[str], operator: dict[str, str]
) -> None:
    got = await get_flow(app, {**operator, "Accept": "text/csv"})
    assert got.status_code == 200 and got.headers["content-type"].startswith("text/csv")
    lines = list(csv.DictReader(io.StringIO(got.text)))
    tables = {line["table"] for line in lines}
    assert tables == {"time_in_state", "backlog", "handoffs", "handoffs_by_unit", "breaches"}
    breach = next(line for line in lines if line["table"] == "breaches")
    assert (breach["grid"], breach["breaches"], breach["unit"]) == ("C05-G01", "2", "")


@pytest.mark.parametrize(
    "period",
    [
        {"from": "2022-10-01", "to": "2022-09-01"},  # backwards
        {"from": "2020-01-01", "to": "2024-03-01"},  # over three years
        {"from": "9999-12-30", "to": "9999-12-31"},  # past the last day this system holds
        {"from": "March", "to": "2024-03-01"},
    ],
)
async def test_a_bad_period_is_a_422_with_the_reason(
    app: Any, operator: dict[str, str], period: dict[str, str]
) -> None:
    got = await get_flow(app, operator, **period)
    assert got.status_code == 422
    assert got.json()["error"]["code"] == "invalid_query"

"""KPIs over the case record: a hand-made March 2024 whose rates are known, read through
GET /v1/stats (JSON and CSV), bad queries, and a generated June 2023 whose record and event log
must tell the same story. (Other tests file cases "now", so these periods are ours alone.)"""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator
from datetime import date, datetime
from typing import Any

import httpx
import pytest
from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from api.main import create_app
from core.config import Settings
from db import stats
from db.generate import CaseSpec, generate, insert_cases, load_reference
from db.models import Case, CaseEventRow, CaseRollupMonth
from domain.calendar import SUBDISTRICT_TZ
from domain.kpi import StatsRow
from tests.conftest import bearer

MARCH = datetime(2024, 4, 1, tzinfo=SUBDISTRICT_TZ)  # the hand-made cases as they stand then


def at(day: int, hour: int = 10) -> datetime:
    return datetime(2024, 3, day, hour, tzinfo=SUBDISTRICT_TZ)


def spec(**overrides: Any) -> CaseSpec:
    return CaseSpec(
        **{"received_at": at(5), "category": "sanitation.dead_corner", "grid": "C03-G01"}
        | overrides
    )


HAND_MADE = [
    spec(),  # closed, satisfied, solved
    spec(grade="basically_satisfied", solved=False),
    spec(grade=None, solved=None),  # nobody rated: closed unrated
    spec(accept_late=True),  # overdue, one ladder step
    spec(rejected=True),  # 不予受理
    spec(returned=True, reply_late=True),
    spec(
        grid="C05-G01",
        received_at=at(11),  # its return visits (a working day after each reply) end in March
        first_grade="unsatisfied",
        grade="unsatisfied",
        solved=False,
    ),
    spec(received_at=at(31, 23)),  # still open on April 1st (accepted, not yet contacted)
]


@pytest.fixture(scope="module")
async def march(sessions: async_sessionmaker[AsyncSession]) -> list[str]:
    async with sessions.begin() as session:
        ref = await load_reference(session)
        return await insert_cases(session, ref, HAND_MADE, as_of=MARCH)


@pytest.fixture
async def api(
    settings: Settings, sessions: async_sessionmaker[AsyncSession]
) -> AsyncIterator[httpx.AsyncClient]:
    """The stats API reads only PostgreSQL: the app without its lifespan (no Temporal)."""
    app = create_app(settings)
    app.state.settings, app.state.sessions = settings, sessions
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://test", headers=bearer("operator")
    ) as client:
        yield client


def rate(value: float | None, numerator: int, denominator: int) -> dict[str, Any]:
    return {"value": value, "numerator": numerator, "denominator": denominator}


async def test_march_by_community_counts_and_rates_are_exact(
    api: httpx.AsyncClient, march: list[str]
) -> None:
    got = await api.get(
        "/v1/stats", params={"from": "2024-03-01", "to": "2024-03-31", "group_by": "community"}
    )
    assert got.status_code == 200, got.text
    body = got.json()
    assert (body["from"], body["to"], body["group_by"]) == (
        "2024-03-01",
        "2024-03-31",
        ["community"],
    )
    c03, c05 = body["rows"]
    assert c03["group"] == {"community": "C03"} and c05["group"] == {"community": "C05"}
    assert c03["counts"] == {
        "received": 7,
        "dispatched": 7,
        "closed": 6,
        "open": 1,
        "overdue": 2,
        "escalated": 2,
        "linked": 0,
        "assisted": 0,
        "returned": 1,
        "rejected": 1,
        "unrated": 1,
        "unreachable": 0,
        "split": 0,
        "rated": 4,
        "satisfied": 3,
        "basically_satisfied": 1,
        "unsatisfied": 0,
        "solved": 3,
        "accepted_on_time": 5,
        "replied": 5,
        "replied_on_time": 4,
        "reopened": 0,
        "handed_off": 1,  # the returned case (returned, then reassigned)
    }
    assert c03["rates"] == {
        "completion": rate(round(6 / 7, 6), 6, 7),
        "response": rate(round(5 / 7, 6), 5, 7),
        "on_time": rate(0.8, 4, 5),
        "satisfaction": rate(1.0, 4, 4),
        "resolution": rate(0.75, 3, 4),
        "unreachable": rate(0.0, 0, 5),
    }
    assert c05["counts"]["unsatisfied"] == 1 and c05["counts"]["replied_on_time"] == 1
    assert c05["rates"]["satisfaction"] == rate(0.0, 0, 1)
    assert body["total"]["group"] == {}
    assert body["total"]["counts"]["received"] == 8
    assert body["total"]["rates"]["completion"] == rate(0.875, 7, 8)
    assert body["total"]["rates"]["satisfaction"] == rate(0.8, 4, 5)


async def test_periods_are_local_days_and_to_is_included(
    api: httpx.AsyncClient, march: list[str]
) -> None:
    # The open case came in on March 31st at 23:00 in Qingdao (15:00 UTC).
    body = (
        await api.get(
            "/v1/stats",
            params={"from": "2024-03-01", "to": "2024-03-31", "group_by": ["day", "week", "month"]},
        )
    ).json()
    groups = {tuple(r["group"].values()): r["counts"]["received"] for r in body["rows"]}
    assert groups == {
        ("2024-03-05", "2024-W10", "2024-03"): 6,
        ("2024-03-11", "2024-W11", "2024-03"): 1,
        ("2024-03-31", "2024-W13", "2024-03"): 1,
    }
    before = (await api.get("/v1/stats", params={"from": "2024-03-01", "to": "2024-03-30"})).json()
    assert before["total"]["counts"]["received"] == 7
    assert before["rows"][0]["counts"]["open"] == 0
    exact = (
        await api.get(
            "/v1/stats",
            params={"from": "2024-03-31T23:00:00+08:00", "to": "2024-04-01T00:00:00+08:00"},
        )
    ).json()
    assert exact["total"]["counts"]["received"] == 1


async def test_csv_has_one_line_per_group_with_rates_and_their_parts(
    api: httpx.AsyncClient, march: list[str]
) -> None:
    got = await api.get(
        "/v1/stats",
        params={"from": "2024-03-01", "to": "2024-03-31", "group_by": ["community", "unit"]},
        headers={"Accept": "text/csv"},
    )
    assert got.status_code == 200 and got.headers["content-type"].startswith("text/csv")
    lines = list(csv.DictReader(io.StringIO(got.text)))
    by_unit = {(r["community"], r["unit"]): r for r in lines}
    assert set(by_unit) == {("C03", "GT-C03-G01"), ("C03", "CO-C03"), ("C05", "GT-C05-G01")}
    returned = by_unit[("C03", "CO-C03")]  # reassigned to the committee after the return
    assert returned["received"] == "1" and returned["returned"] == "1"
    assert returned["on_time_rate"] == "0.0" and returned["on_time_denominator"] == "1"
    grid_team = by_unit[("C03", "GT-C03-G01")]
    assert (grid_team["received"], grid_team["completion_numerator"]) == ("6", "5")
    assert grid_team["completion_rate"] == str(round(5 / 6, 6))
    assert by_unit[("C05", "GT-C05-G01")]["resolution_rate"] == "0.0"


async def test_an_empty_period_has_no_rows_and_null_rates(api: httpx.AsyncClient) -> None:
    body = (
        await api.get(
            "/v1/stats", params={"from": "2001-01-01", "to": "2001-01-31", "group_by": "grid"}
        )
    ).json()
    assert body["rows"] == []
    assert body["total"]["counts"]["received"] == 0
    assert body["total"]["rates"]["completion"] == rate(None, 0, 0)


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"from": "2024-03-01", "to": "2024-03-31", "group_by": "colour"}, "group_by"),
        ({"from": "2024-03-31", "to": "2024-03-01"}, "from"),
        ({"from": "2020-01-01", "to": "2024-03-01"}, "longest_days"),
        ({"from": "March", "to": "2024-03-01"}, "from"),
    ],
)
async def test_bad_queries_are_422_in_the_error_format(
    api: httpx.AsyncClient, params: dict[str, str], field: str
) -> None:
    got = await api.get("/v1/stats", params=params)
    assert got.status_code == 422
    error = got.json()["error"]
    assert error["code"] == "invalid_query" and field in str(error["details"])
    missing = await api.get("/v1/stats", params={"from": "2024-03-01"})
    assert missing.status_code == 422 and missing.json()["error"]["code"] == "invalid_request"


def _by_group(rows: list[StatsRow]) -> dict[tuple[Any, ...], dict[str, int]]:
    return {tuple(r.group.values()): r.counts.model_dump() for r in rows}


async def test_a_generated_month_agrees_with_its_event_log(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    async with sessions.begin() as session:
        made = await generate(session, cases=600, months=1, seed=7, end=date(2023, 7, 1))
    assert (made.cases, made.start) == (600, date(2023, 6, 1))
    start = datetime(2023, 6, 1, tzinfo=SUBDISTRICT_TZ)
    end = datetime(2023, 7, 1, tzinfo=SUBDISTRICT_TZ)
    async with sessions() as session:
        in_june = select(Case.id).where(Case.received_at >= start, Case.received_at < end)
        ids = (await session.scalars(in_june)).all()
        assert len(ids) == 600 and all(i.startswith("GEN-2023-") for i in ids)
        events = await session.scalar(
            select(func.count()).select_from(CaseEventRow).where(CaseEventRow.case_id.in_(ids))
        )
        assert events and events > 600 * 5
        # Linked cases are driven through the linkage's model too: its agencies report and
        # finish (some still open at the month's end).
        linked = select(CaseEventRow.type, func.count()).where(
            CaseEventRow.case_id.in_(ids),
            CaseEventRow.type.in_(["linkage_opened", "agency_reported", "agency_done"]),
        )
        by_type = dict((await session.execute(linked.group_by(CaseEventRow.type))).all())
        assert by_type.get("linkage_opened", 0) > 0
        assert by_type["agency_reported"] >= by_type["agency_done"] > 0
        for group_by in ([], ["community", "unit", "channel"], ["category", "week"], ["day"]):
            record = await stats.case_stats(session, start=start, end=end, group_by=group_by)
            replayed = await stats.case_stats_from_events(
                session, start=start, end=end, group_by=group_by
            )
            assert _by_group(record) == _by_group(replayed), group_by
            # The trigger-kept rollup (what the API reads) and the rows themselves agree.
            direct = await stats.case_stats_direct(session, start=start, end=end, group_by=group_by)
            rolled = await stats.case_stats_from_rollup(
                session, start=start, end=end, group_by=group_by
            )
            assert _by_group(rolled) == _by_group(direct), group_by
        for group_by in ([], ["community"], ["category", "month"], ["channel"]):
            monthly = await stats.case_stats_from_rollup(
                session, start=start, end=end, group_by=group_by, table=CaseRollupMonth
            )
            direct = await stats.case_stats_direct(session, start=start, end=end, group_by=group_by)
            assert _by_group(monthly) == _by_group(direct), group_by
        total = _by_group(await stats.case_stats(session, start=start, end=end, group_by=[]))[()]
    # A realistic mix: some still open at the month's end, some late, returned, unrated.
    assert total["received"] == 600 and 0 < total["open"] < 150
    assert total["overdue"] > 0 and total["returned"] > 0 and total["unrated"] > 0
    assert total["satisfied"] > total["basically_satisfied"] > 0
    assert total["rated"] < total["closed"]
    # 回访: the desk's calls, some missing the resident first, some never reaching them.
    async with sessions() as session:
        calls = await session.scalars(
            select(CaseEventRow.data).where(
                CaseEventRow.case_id.in_(ids), CaseEventRow.type == "visit"
            )
        )
        reached = [call["reached"] for call in calls]
    assert reached.count(True) > reached.count(False) > 0
    assert total["unreachable"] > 0


async def test_the_rollup_follows_every_change_of_a_case(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    """Updates move a case between counters (and groups) in the same transaction; a no-op
    write changes nothing; a deleted row leaves nothing behind."""
    start = datetime(2022, 5, 1, tzinfo=SUBDISTRICT_TZ)
    end = datetime(2022, 6, 1, tzinfo=SUBDISTRICT_TZ)
    async with sessions.begin() as session:
        await generate(session, cases=40, months=1, seed=3, end=date(2022, 6, 1))
    async with sessions.begin() as session:
        victim = await session.scalar(
            select(Case).where(Case.received_at >= start, Case.received_at < end).limit(1)
        )
        assert victim is not None
        victim.unit, victim.overdue, victim.escalation_level = "SD-CENTER", True, 2
    async with sessions.begin() as session:
        gone = await session.scalar(
            select(Case)
            .where(Case.received_at >= start, Case.received_at < end, Case.id != victim.id)
            .limit(1)
        )
        assert gone is not None
        await session.execute(delete(CaseEventRow).where(CaseEventRow.case_id == gone.id))
        await session.delete(gone)
    async with sessions() as session:
        for group_by in ([], ["unit"], ["community", "day"]):
            direct = await stats.case_stats_direct(session, start=start, end=end, group_by=group_by)
            rolled = await stats.case_stats_from_rollup(
                session, start=start, end=end, group_by=group_by
            )
            assert _by_group(rolled) == _by_group(direct), group_by
        monthly = await stats.case_stats_from_rollup(
            session, start=start, end=end, group_by=["community"], table=CaseRollupMonth
        )
        direct = await stats.case_stats_direct(
            session, start=start, end=end, group_by=["community"]
        )
        assert _by_group(monthly) == _by_group(direct)
        total = _by_group(await stats.case_stats(session, start=start, end=end, group_by=[]))[()]
    assert total["received"] == 39 and total["escalated"] >= 1


async def test_a_community_supervisor_sees_only_its_communitys_figures(
    api: httpx.AsyncClient, march: list[str]
) -> None:
    month = {"from": "2024-03-01", "to": "2024-03-31"}
    everyone = (await api.get("/v1/stats", params={**month, "group_by": "community"})).json()
    per_community = {r["group"]["community"]: r["counts"] for r in everyone["rows"]}
    assert len(per_community) >= 1
    community, counts = next(iter(per_community.items()))
    scoped = await api.get(
        "/v1/stats",
        params={**month, "group_by": "channel"},
        headers=bearer("supervisor", community=community),
    )
    assert scoped.status_code == 200
    assert scoped.json()["total"]["counts"] == counts  # its community, nothing else
    assert all(set(r["group"]) == {"channel"} for r in scoped.json()["rows"])
    handler = bearer("unit_handler", unit="GT-C01-G01")
    assert (await api.get("/v1/stats", params=month, headers=handler)).status_code == 403

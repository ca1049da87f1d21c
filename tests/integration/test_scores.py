"""考评 over HTTP: a hand-made May 2025 whose scores are worked out by hand below, ranked per unit
and per community, scoped like the statistics, as CSV, with the city's own weights, and bad
months refused. (No other test files cases in 2025, so the month is ours alone.)"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import AsyncIterator
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

JUNE = datetime(2025, 6, 1, tzinfo=SUBDISTRICT_TZ)  # the cases as they stand then: all closed


def spec(grid: str, **overrides: Any) -> CaseSpec:
    at = datetime(2025, 5, 6, 10, tzinfo=SUBDISTRICT_TZ)
    return CaseSpec(received_at=at, category="sanitation.dead_corner", grid=grid, **overrides)


MAY = [
    # GT-C03-G01 (community C03): 3 cases, one accepted late, one not solved.
    spec("C03-G01"),
    spec("C03-G01", grade="basically_satisfied", solved=False),
    spec("C03-G01", accept_late=True),
    # GT-C05-G01 (community C05): one satisfied, one nobody rated.
    spec("C05-G01"),
    spec("C05-G01", grade=None, solved=None),
    # SD-URBAN (rule R024 for this grid, community C05): accepted late and never rated.
    spec("C05-G02", grade=None, solved=None, accept_late=True),
]


@pytest.fixture(scope="module")
async def may(sessions: async_sessionmaker[AsyncSession]) -> list[str]:
    async with sessions.begin() as session:
        return await insert_cases(session, await load_reference(session), MAY, as_of=JUNE)


def client(settings: Settings, sessions: async_sessionmaker[AsyncSession]) -> httpx.AsyncClient:
    """The scores read only PostgreSQL: the app without its lifespan (no Temporal)."""
    app = create_app(settings)
    app.state.settings, app.state.sessions = settings, sessions
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://test", headers=bearer("operator")
    )


@pytest.fixture
async def api(
    settings: Settings, sessions: async_sessionmaker[AsyncSession]
) -> AsyncIterator[httpx.AsyncClient]:
    async with client(settings, sessions) as http:
        yield http


def ranked(body: dict[str, Any], by: str) -> list[tuple[str, int | None, float | None]]:
    return [(r["group"][by], r["rank"], r["score"]) for r in body["rows"]]


async def test_units_are_ranked_by_the_weighted_mean_of_their_rates(
    api: httpx.AsyncClient, may: list[str]
) -> None:
    got = await api.get("/v1/scores", params={"month": "2025-05", "by": "unit"})
    assert got.status_code == 200, got.text
    body = got.json()
    assert (body["month"], body["by"]) == ("2025-05", "unit")
    # Default weights: completion .1, response .15, on-time .2, satisfaction .25,
    # resolution .1, unreachable .1 and reopen .1 (both counted as 1 - rate; none here).
    # GT-C05-G01: every rate 1 (its unrated case only leaves the rated denominators at 1).
    # GT-C03-G01: response 2/3 and resolution 2/3, the rest 1:
    #   .1 + .1 + .2 + .25 + .0667 + .1 + .1 = .9167
    # SD-URBAN: response 0, nothing rated (satisfaction and resolution leave their weight to
    #   the others): (.1 + 0 + .2 + .1 + .1) / .65 = .7692
    assert ranked(body, "unit") == [
        ("GT-C05-G01", 1, 100.0),
        ("GT-C03-G01", 2, 91.67),
        ("SD-URBAN", 3, 76.92),
    ]
    c03 = body["rows"][1]
    assert c03["points"] == {
        "completion": 10.0,
        "response": 10.0,
        "on_time": 20.0,
        "satisfaction": 25.0,
        "resolution": 6.67,
        "unreachable": 10.0,
        "reopen": 10.0,
    }
    assert c03["rates"]["reopen"] == {"value": 0.0, "numerator": 0, "denominator": 3}
    assert c03["rates"]["response"] == {"value": round(2 / 3, 6), "numerator": 2, "denominator": 3}
    assert c03["rates"]["resolution"] == {
        "value": round(2 / 3, 6),
        "numerator": 2,
        "denominator": 3,
    }
    assert c03["counts"]["received"] == 3 and c03["counts"]["basically_satisfied"] == 1
    urban = body["rows"][2]
    assert urban["points"] == {
        "completion": 15.38,
        "response": 0.0,
        "on_time": 30.77,
        "satisfaction": None,
        "resolution": None,
        "unreachable": 15.38,
        "reopen": 15.38,
    }
    assert urban["rates"]["satisfaction"] == {"value": None, "numerator": 0, "denominator": 0}


async def test_communities_are_ranked_on_all_their_units_cases(
    api: httpx.AsyncClient, may: list[str]
) -> None:
    body = (await api.get("/v1/scores", params={"month": "2025-05", "by": "community"})).json()
    # C05 = GT-C05-G01 + SD-URBAN: response 2/3, everything else 1 (1 rated, satisfied, solved):
    #   .1 + .1 + .2 + .25 + .1 + .1 + .1 = .95. C03 is GT-C03-G01 alone: .9167.
    assert ranked(body, "community") == [("C05", 1, 95.0), ("C03", 2, 91.67)]
    assert body["rows"][0]["counts"]["received"] == 3


async def test_a_community_supervisor_sees_only_its_community(
    api: httpx.AsyncClient, may: list[str]
) -> None:
    c03 = bearer("supervisor", community="C03")
    units = await api.get("/v1/scores", params={"month": "2025-05", "by": "unit"}, headers=c03)
    assert ranked(units.json(), "unit") == [("GT-C03-G01", 1, 91.67)]
    places = await api.get(
        "/v1/scores", params={"month": "2025-05", "by": "community"}, headers=c03
    )
    assert ranked(places.json(), "community") == [("C03", 1, 91.67)]
    for role, scope in (("unit_handler", {"unit": "GT-C03-G01"}), ("resident", {})):
        refused = await api.get(
            "/v1/scores", params={"month": "2025-05", "by": "unit"}, headers=bearer(role, **scope)
        )
        assert refused.status_code == 403 and "error" in refused.json()


async def test_csv_has_the_rank_score_points_and_every_rates_parts(
    api: httpx.AsyncClient, may: list[str]
) -> None:
    got = await api.get(
        "/v1/scores",
        params={"month": "2025-05", "by": "unit"},
        headers={"Accept": "text/csv"},
    )
    assert got.status_code == 200 and got.headers["content-type"].startswith("text/csv")
    lines = list(csv.DictReader(io.StringIO(got.text)))
    assert [(r["rank"], r["unit"], r["score"]) for r in lines] == [
        ("1", "GT-C05-G01", "100.0"),
        ("2", "GT-C03-G01", "91.67"),
        ("3", "SD-URBAN", "76.92"),
    ]
    urban = lines[2]
    assert (urban["satisfaction_points"], urban["satisfaction_rate"]) == ("", "")
    assert (urban["response_numerator"], urban["response_denominator"]) == ("0", "1")
    assert urban["on_time_points"] == "30.77" and urban["received"] == "1"
    assert (urban["reopen_rate"], urban["reopen_denominator"]) == ("0.0", "1")


async def test_weights_come_from_the_configuration(
    settings: Settings,
    sessions: async_sessionmaker[AsyncSession],
    may: list[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("GRIDCASE_SCORE_WEIGHTS", '{"response": 3, "resolution": 1}')
    configured = Settings(database_url=settings.database_url)
    async with client(configured, sessions) as http:
        body = (await http.get("/v1/scores", params={"month": "2025-05", "by": "unit"})).json()
    assert body["weights"] == {"response": 3.0, "resolution": 1.0}
    # GT-C03-G01: (3 * 2/3 + 1 * 2/3) / 4; SD-URBAN: response 0, resolution has no denominator.
    assert ranked(body, "unit") == [
        ("GT-C05-G01", 1, 100.0),
        ("GT-C03-G01", 2, 66.67),
        ("SD-URBAN", 3, 0.0),
    ]
    assert body["rows"][1]["points"] == {"response": 50.0, "resolution": 16.67}
    monkeypatch.setenv("GRIDCASE_SCORE_WEIGHTS", '{"speed": 1}')
    with pytest.raises(ValueError, match="no such rate"):
        Settings(database_url=settings.database_url)


@pytest.mark.parametrize(
    "params",
    [
        {"month": "2025-13", "by": "unit"},
        {"month": "May 2025", "by": "unit"},
        {"month": "9999-12", "by": "unit"},
        {"month": "0000-01", "by": "community"},
    ],
)
async def test_a_month_that_is_not_yyyy_mm_is_422(
    api: httpx.AsyncClient, params: dict[str, str]
) -> None:
    got = await api.get("/v1/scores", params=params)
    assert got.status_code == 422, got.text
    assert got.json()["error"]["code"] == "invalid_query"
    wrong_by = await api.get("/v1/scores", params={"month": "2025-05", "by": "grid"})
    assert wrong_by.status_code == 422 and wrong_by.json()["error"]["code"] == "invalid_request"


async def test_a_month_without_cases_has_no_rows(api: httpx.AsyncClient) -> None:
    body = (await api.get("/v1/scores", params={"month": "2001-02", "by": "community"})).json()
    assert body["rows"] == []


async def test_the_statistics_page_shows_the_months_ranking(
    settings: Settings, sessions: async_sessionmaker[AsyncSession], may: list[str]
) -> None:
    token = bearer("operator")["Authorization"].removeprefix("Bearer ")
    async with client(settings, sessions) as http:
        signin = await http.get("/console/signin")
        nonce = re.search(r'name="nonce" value="([^"]+)"', signin.text)
        assert nonce, signin.text
        await http.post("/console/signin", data={"nonce": nonce.group(1), "token": token})
        page = await http.get(
            "/console/stats", params={"from": "2025-05-01", "to": "2025-05-31", "by": "unit"}
        )
        by_category = await http.get(
            "/console/stats", params={"from": "2025-05-01", "to": "2025-05-31", "by": "category"}
        )
    assert page.status_code == 200, page.text
    table = page.text[page.text.index('data-testid="score-table"') :]
    assert "2025-05" in table
    cells = re.findall(r"<tr><td>([^<]+)</td><td>([^<]+)</td><td>([^<]+)</td>", table)
    assert [(rank, score) for rank, _, score in cells] == [
        ("1", "100.0"),
        ("2", "91.67"),  # the same month as the JSON ranking above, worked out there
        ("3", "76.92"),
    ]
    assert "网格团队" in cells[0][1]  # by the unit's name (GT-C05-G01's grid team)
    assert 'data-testid="score-table"' not in by_category.text  # categories are not ranked

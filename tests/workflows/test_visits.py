"""The return-visit desk on the time-skipping server: unreached calls on different working days
close the case unreachable (the record, the rollups and the event-log replay count it alike),
and an app rating in the verification sample waits for its call."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.testing import WorkflowEnvironment

from db import cases, stats
from domain.calendar import SUBDISTRICT_TZ
from domain.case import Action, CaseStatus, Grade, Outcome, RateInput
from domain.permissions import Principal, Role
from domain.visit import VisitInput, sampled_for_verification
from tests.workflows.conftest import act, events_of, row_of
from tests.workflows.test_case_workflow import drive_to_replied

VISITOR = Principal(subject="sun", role=Role.visitor)
UNREACHED = VisitInput(reached=False, note="无人接听")


def until_early_tomorrow(now: datetime) -> timedelta:
    """To 00:05 tomorrow, local time: each call is earlier in its day than the reply was, so
    the rating window (ending at the reply's time of day) is still open on the third one."""
    local = now.astimezone(SUBDISTRICT_TZ)
    tomorrow = datetime.combine(local.date() + timedelta(days=1), time(0, 5), SUBDISTRICT_TZ)
    return tomorrow - local


async def test_unreached_on_three_working_days_the_case_closes_unreachable(
    start: Any, sessions: async_sessionmaker[AsyncSession], time_skipping: WorkflowEnvironment
) -> None:
    handle = await start()
    await drive_to_replied(handle)
    row = await row_of(sessions, handle.id)
    assert row.visit_due_at is not None and row.visit_due_at > row.replied_at  # type: ignore[operator]
    view = await act(handle, Action.visit, UNREACHED, VISITOR)
    view = await act(handle, Action.visit, UNREACHED, VISITOR)  # the same day: once
    assert view.status is CaseStatus.replied and view.unreached_attempts <= 1
    for _ in range(12):  # a day at a time; rest days do not count
        if view.status is CaseStatus.closed:
            break
        await time_skipping.sleep(until_early_tomorrow(await time_skipping.get_current_time()))
        view = await act(handle, Action.visit, UNREACHED, VISITOR)
    assert (view.status, view.outcome, view.grade) == (
        CaseStatus.closed,
        Outcome.unreachable,
        None,
    )
    assert (await events_of(sessions, handle.id))[-2:] == ["visit", "closed"]
    row = await row_of(sessions, handle.id)
    assert row.outcome == "unreachable"

    day = row.received_at.astimezone(SUBDISTRICT_TZ).date()
    begin = datetime.combine(day, time(), tzinfo=SUBDISTRICT_TZ)
    end = begin + timedelta(days=1)
    async with sessions() as session:
        record = await stats.case_stats_direct(session, start=begin, end=end, group_by=["unit"])
        rolled = await stats.case_stats_from_rollup(
            session, start=begin, end=end, group_by=["unit"]
        )
        replayed = await stats.case_stats_from_events(
            session, start=begin, end=end, group_by=["unit"]
        )
    by_unit = [
        {tuple(r.group.values()): r.counts for r in rows} for rows in (record, rolled, replayed)
    ]
    assert by_unit[0] == by_unit[1] == by_unit[2]
    assert by_unit[0][(row.unit,)].unreachable >= 1


async def test_an_app_rating_in_the_sample_is_verified_by_a_call(
    start: Any, sessions: async_sessionmaker[AsyncSession]
) -> None:
    # The sample is the policy's 10 %, chosen from the case id: file under an id it chose.
    async with sessions.begin() as session:
        number = await cases.allocate_number(session)
    case_id = next(
        i for k in range(1000) if sampled_for_verification(i := f"VS-2026-{number:06d}{k:03d}", 0.1)
    )
    handle = await start(case_id=case_id)
    await drive_to_replied(handle)
    resident = Principal(subject="resident", role=Role.resident, case_id=case_id)
    view = await act(handle, Action.rate, RateInput(grade=Grade.satisfied), resident)
    assert (view.status, view.verification, view.allowed_actions) == (
        CaseStatus.replied,
        "pending",
        [Action.visit],
    )
    assert (await row_of(sessions, handle.id)).verification == "pending"
    called = VisitInput(reached=True, grade=Grade.satisfied, solved=True)
    view = await act(handle, Action.visit, called, VISITOR)
    assert (view.status, view.outcome, view.grade, view.verification) == (
        CaseStatus.closed,
        Outcome.rated,
        Grade.satisfied,
        "agrees",
    )
    assert (await events_of(sessions, handle.id))[-3:] == ["rate", "visit", "closed"]

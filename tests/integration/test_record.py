"""The case record when a workflow task is lost: the record runs as a local activity inside the
task, so a task the server never persisted (Temporal killed) has already written; the retried
task may see a signal or an Update the lost one did not and record other steps under the same
sequence numbers. Its record is the one that counts, and no notice goes out twice."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from db import cases
from db.models import Case, CaseEventRow, Notification
from domain.allowed import allowed_actions
from domain.case import (
    AcceptInput,
    Action,
    CaseEvent,
    CaseReceived,
    CaseRecord,
    Reporter,
    UrgeInput,
)
from domain.change import Step
from domain.common import Notice
from domain.repeat import Repeat, mark
from domain.view import view
from tests.unit.stories import DISPATCHER, Story

# The history each workflow task had seen (workflows/fence.py): the retry at least what its lost
# attempt had.
FIRST_TASK, LOST_TASK, RETRY = 3, 10, 12
REPEAT = Repeat(earlier=["LC-2026-000001", "LC-2026-000002"], basis="reporter")


async def test_a_retried_task_replaces_what_the_lost_one_recorded(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    lost, retried = await _two_attempts(sessions)
    case_id = lost.intake.case_id
    routed_seq = retried.state.seq

    # The lost task: the repeat signal, then an urge; the repeat's notice even went out.
    lost.wait(5)
    await _take(sessions, lost, mark(lost.state, REPEAT, lost.now), LOST_TASK)
    urge = lost.act(6, Action.urge, UrgeInput(note="请尽快"), DISPATCHER)
    await _take(sessions, lost, urge, LOST_TASK)
    async with sessions.begin() as session:
        await session.execute(
            update(Notification)
            .where(Notification.case_id == case_id, Notification.kind == "repeat")
            .values(sent_at=datetime.now(UTC))
        )

    # The retried task sees the unit's accept first (an Update the lost task never saw), then
    # the repeat; the urge's caller gave up.
    accept = retried.act(7, Action.accept, AcceptInput())
    assert await _record(sessions, retried, accept.events, accept.notices, RETRY) == "replaced"
    repeat = retried.take(mark(retried.state, REPEAT, retried.now))
    assert await _record(sessions, retried, repeat.events, repeat.notices, RETRY) == "written"
    written = await _updated_at(sessions, case_id)
    retry = await _record(sessions, retried, repeat.events, repeat.notices, RETRY)  # once more
    assert retry == "already written"
    assert await _updated_at(sessions, case_id) == written  # ... and found it written: no-op

    # A stale task: the lost one's urge, given out again before a restart and run late by a
    # worker. It had seen less history than the tasks that recorded since: it writes nothing.
    assert await _record(sessions, lost, urge.events, urge.notices, LOST_TASK) == "stale"
    assert await _updated_at(sessions, case_id) == written

    async with sessions() as session:
        events = (
            await session.scalars(
                select(CaseEventRow.type)
                .where(CaseEventRow.case_id == case_id, CaseEventRow.seq > routed_seq)
                .order_by(CaseEventRow.seq)
            )
        ).all()
        row = await session.get(Case, case_id)
        notices = (
            await session.execute(
                select(Notification.kind, Notification.seq, Notification.sent_at.is_not(None))
                .where(Notification.case_id == case_id, Notification.seq > routed_seq)
                .where(Notification.superseded_at.is_(None))
            )
        ).all()
    assert events == ["accept", "repeated"]
    assert row is not None
    assert (row.status, row.last_seq) == ("in_progress", routed_seq + 2)
    # The repeat's notice is the one that went out, now under the retried task's key: once.
    assert notices == [("repeat", routed_seq + 2, True)]

    # The urge the retried task never recorded is set aside: no sender takes it.
    async with sessions() as session:
        waiting = (
            await session.scalars(
                select(Notification.kind).where(
                    Notification.case_id == case_id, Notification.unsent()
                )
            )
        ).all()
        urge = await session.scalar(
            select(Notification).where(Notification.case_id == case_id, Notification.kind == "urge")
        )
    assert "urge" not in waiting
    assert urge is not None and urge.sent_at is None and urge.superseded_at is not None


async def test_a_notice_set_aside_long_ago_is_not_taken_over(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    lost, retried = await _two_attempts(sessions)
    case_id = lost.intake.case_id
    urge = UrgeInput(note="请尽快")
    await _take(sessions, lost, lost.act(5, Action.urge, urge, DISPATCHER), LOST_TASK)
    async with sessions.begin() as session:
        await session.execute(
            update(Notification)
            .where(Notification.case_id == case_id, Notification.kind == "urge")
            .values(sent_at=datetime.now(UTC))
        )
    await _take(sessions, retried, retried.act(6, Action.accept, AcceptInput()), RETRY)
    async with sessions.begin() as session:  # the urge was set aside two hours ago
        await session.execute(
            update(Notification)
            .where(Notification.case_id == case_id, Notification.kind == "urge")
            .values(superseded_at=datetime.now(UTC) - timedelta(hours=2))
        )
    # Much later the supervisor urges again, the same words: a notice of its own, sent.
    await _take(sessions, retried, retried.act(7, Action.urge, urge, DISPATCHER), RETRY + 9)
    async with sessions() as session:
        urges = (
            await session.execute(
                select(Notification.sent_at.is_not(None), Notification.superseded_at.is_(None))
                .where(Notification.case_id == case_id, Notification.kind == "urge")
                .order_by(Notification.created_at)
            )
        ).all()
    assert urges == [(True, False), (False, True)]


async def _updated_at(sessions: async_sessionmaker[AsyncSession], case_id: str) -> datetime:
    async with sessions() as session:
        updated = await session.scalar(select(Case.updated_at).where(Case.id == case_id))
    assert updated is not None
    return updated


async def _two_attempts(sessions: async_sessionmaker[AsyncSession]) -> tuple[Story, Story]:
    """A filed and routed case (recorded before the loss), told twice: as the lost workflow task
    saw it and as its retry does."""
    case_id = await _filed(sessions)
    lost, retried = Story(case_id=case_id), Story(case_id=case_id)
    for story in (lost, retried):
        story.route()
        await _record(sessions, story, story.events, fence=FIRST_TASK)
    return lost, retried


async def _filed(sessions: async_sessionmaker[AsyncSession]) -> str:
    async with sessions.begin() as session:
        number = await cases.allocate_number(session)
        story = Story(case_id=f"RC-2026-{number:06d}", number=number)
        received = CaseReceived(
            description="垃圾堆积多日",
            reporter=Reporter(name="王女士", phone="13800000001"),
            at=datetime.now(UTC),
        )
        await cases.open_case(session, story.intake, received)
    return story.intake.case_id


async def _take(
    sessions: async_sessionmaker[AsyncSession], story: Story, step: Step, fence: int
) -> Step:
    """Apply `step` to the story and record it, as the workflow's `_take` does."""
    story.take(step)
    await _record(sessions, story, step.events, step.notices, fence)
    return step


async def _record(
    sessions: async_sessionmaker[AsyncSession],
    story: Story,
    events: list[CaseEvent],
    notices: list[Notice] | None = None,
    fence: int = 0,
) -> cases.Recorded:
    record = CaseRecord(
        case=view(story.state, allowed_actions(story.state)),
        events=events,
        notifications=notices or [],
        fence=fence,
    )
    async with sessions.begin() as session:
        return await cases.record(session, record)

"""Reopening through the pure model: one action, `reopen`, sends the case back to its unit with
a fresh reply deadline, from a supervisor's review or, within the policy's window after closure,
from the resident; it is counted against the unit and the case closes again through the loop."""

from __future__ import annotations

from datetime import timedelta

import pytest

from domain.allowed import Forbidden, NotAllowedNow, allowed_actions
from domain.case import (
    AcceptInput,
    Action,
    CaseStatus,
    ContactInput,
    Grade,
    RateInput,
    RejectInput,
    ReopenInput,
    ReplyInput,
)
from domain.kpi import facts_of
from domain.permissions import Principal, Role
from domain.sla import DeadlineKind
from domain.state import replay
from tests.unit.stories import DISPATCHER, HANDLER, SUPERVISOR, UNIT, Story

RESIDENT = Principal(subject="resident", role=Role.resident, case_id="LC-2026-000001")
DAY = 24 * 60


def closed_satisfied() -> Story:
    story = Story()
    story.route()
    story.act(10, Action.accept, AcceptInput())
    story.act(20, Action.contact, ContactInput(note="电话联系"))
    story.act(60, Action.reply, ReplyInput(result="已清理"))
    story.act(90, Action.rate, RateInput(grade=Grade.satisfied, solved=True), RESIDENT)
    assert story.state.outcome is not None
    return story


def test_the_resident_reopens_a_closed_case_back_to_the_same_unit() -> None:
    story = closed_satisfied()
    closed_at = story.state.closed_at
    assert closed_at is not None
    # 30 calendar days from closure, in the subdistrict's clock.
    assert story.state.reopen_until() == closed_at + timedelta(days=30)
    assert allowed_actions(story.state, RESIDENT) == [Action.reopen]
    assert allowed_actions(story.state, SUPERVISOR) == []  # after closure, the resident's voice
    step = story.act(10 * DAY, Action.reopen, ReopenInput(reason="又堆满了"), RESIDENT)
    state = story.state
    assert (state.status, state.unit, state.outcome, state.grade) == (
        CaseStatus.in_progress,
        UNIT,
        None,
        None,
    )
    reply = state.deadlines[DeadlineKind.reply]
    assert reply.started_at == story.now and reply.met_at is None
    assert story.events[-1].data["after_closure"] is True
    assert [(n.recipient, n.kind) for n in step.notices] == [(UNIT, "reopened")]
    counted = facts_of(state).counts()
    assert state.reopens == 1 and counted.reopened == 1 and counted.closed == 0
    # ... and it closes again through the usual loop.
    story.act(10 * DAY + 60, Action.reply, ReplyInput(result="再次清理, 加装监控"))
    story.act(10 * DAY + 90, Action.rate, RateInput(grade=Grade.basically_satisfied), RESIDENT)
    assert (
        story.state.status is CaseStatus.closed and story.state.grade is Grade.basically_satisfied
    )
    assert story.types.count("closed") == 2
    assert replay(story.events) == story.state


def test_the_window_closes_after_the_policys_days() -> None:
    story = closed_satisfied()
    with pytest.raises(NotAllowedNow, match="window to reopen closed"):
        story.act(31 * DAY, Action.reopen, ReopenInput(reason="又堆满了"), RESIDENT)


def test_a_rejected_case_is_not_reopened_and_a_handler_never_reopens() -> None:
    story = Story()
    story.route()
    story.act(10, Action.reject, RejectInput(reason="非政府职能"), DISPATCHER)
    assert allowed_actions(story.state, RESIDENT) == []
    with pytest.raises(NotAllowedNow, match="only a case a unit replied to"):
        story.act(20, Action.reopen, ReopenInput(reason="x"), RESIDENT)
    with pytest.raises(Forbidden):
        closed_satisfied().act(DAY, Action.reopen, ReopenInput(reason="x"), HANDLER)


def test_in_review_the_supervisor_reopens_and_the_resident_may_not() -> None:
    story = Story()
    story.route()
    story.act(10, Action.accept, AcceptInput())
    story.act(20, Action.contact, ContactInput(note="电话联系"))
    for minute in (60, 120):
        story.act(minute, Action.reply, ReplyInput(result="已处理"))
        story.act(minute + 10, Action.rate, RateInput(grade=Grade.unsatisfied), RESIDENT)
    assert story.state.review == "pending"
    assert allowed_actions(story.state, RESIDENT) == []
    with pytest.raises(Forbidden):
        story.act(200, Action.reopen, ReopenInput(reason="x"), RESIDENT)
    story.act(200, Action.reopen, ReopenInput(reason="现场核实未解决"), SUPERVISOR)
    assert story.state.reopens == 1 and story.events[-1].data["after_closure"] is False
    assert replay(story.events) == story.state

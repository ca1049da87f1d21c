"""Routing disputes and hand-offs through the pure model: the dispatcher disputes a return, the
governance centre rules within its deadline (reminded before, up the ladder after), the unit it
names takes the case and cannot return it, and every return and reassignment is counted."""

from __future__ import annotations

import pytest

from domain.allowed import Forbidden, NotAllowedNow, allowed_actions
from domain.case import (
    AcceptInput,
    Action,
    CaseStatus,
    DisputeInput,
    ReassignInput,
    ReturnInput,
    RuleOnReturnInput,
)
from domain.flow import handed_off_by
from domain.kpi import facts_of
from domain.permissions import Principal, Role
from domain.sla import DeadlineKind
from domain.state import replay
from tests.unit.stories import DISPATCHER, HANDLER, SUPERVISOR, UNIT, Story

OTHER = Principal(subject="liu", role=Role.unit_handler, unit="CO-C01")
HOUR = 60


def disputed() -> Story:
    story = Story()
    story.route()
    story.act(10, Action.return_, ReturnInput(reason="不属于网格"))
    story.act(20, Action.dispute, DisputeInput(reason="楼后属网格责任区"), DISPATCHER)
    return story


def test_a_disputed_return_waits_for_the_governance_centres_ruling() -> None:
    story = disputed()
    state = story.state
    assert (state.status, state.dispute) == (CaseStatus.returned, "pending")
    # Monday 09:20 local + 2 working days = Wednesday 09:20 (UTC+8).
    ruling = state.deadlines[DeadlineKind.ruling]
    assert ruling.due_at.isoformat() == "2026-11-04T01:20:00+00:00"
    assert allowed_actions(state) == [Action.rule_on_return, Action.add_info, Action.chase]
    assert allowed_actions(state, SUPERVISOR) == [Action.rule_on_return]
    assert allowed_actions(state, DISPATCHER) == [Action.add_info, Action.chase]
    with pytest.raises(Forbidden):
        story.act(30, Action.rule_on_return, RuleOnReturnInput(unit=UNIT, reason="x"), DISPATCHER)
    with pytest.raises(NotAllowedNow):
        story.act(30, Action.reassign, ReassignInput(unit="CO-C01"), SUPERVISOR)


def test_the_ruled_unit_takes_the_case_and_may_not_return_it_again() -> None:
    story = disputed()
    step = story.act(
        HOUR, Action.rule_on_return, RuleOnReturnInput(unit=UNIT, reason="责任区内"), SUPERVISOR
    )
    state = story.state
    assert (state.status, state.unit, state.bound_unit) == (CaseStatus.dispatched, UNIT, UNIT)
    assert state.dispute == "ruled"
    assert state.deadlines[DeadlineKind.ruling].met_at == story.now  # kept, met on time
    assert {DeadlineKind.accept, DeadlineKind.contact, DeadlineKind.reply} <= set(state.deadlines)
    assert [(n.recipient, n.kind) for n in step.notices] == [(UNIT, "dispatched")]
    assert Action.return_ not in allowed_actions(state, HANDLER)
    with pytest.raises(NotAllowedNow):
        story.act(HOUR + 5, Action.return_, ReturnInput(reason="还是不归我们"))
    story.act(HOUR + 5, Action.accept, AcceptInput())
    # return, ruling: two hand-offs, the same in the record, the KPI facts and the log's replay
    assert state.handoffs == 2 and facts_of(story.state).counts().handed_off == 1
    assert replay(story.events) == story.state
    assert handed_off_by(story.events) == [UNIT, None]  # the unit returned it; then nobody held it


def test_a_late_ruling_reminds_the_centre_and_climbs_the_ladder() -> None:
    story = disputed()
    story.wait(3 * 24 * HOUR)  # past Wednesday 09:20
    warned = [s for s in story.steps if any(e.type == "deadline_warning" for e in s.events)]
    assert [(n.recipient, n.kind) for n in warned[0].notices] == [("SD-CENTER", "reminder")]
    missed = [e for e in story.events if e.type == "deadline_missed"]
    assert [e.data["deadline"] for e in missed] == ["ruling"]
    assert story.state.escalation_level >= 1 and story.state.overdue
    assert story.state.dispute == "pending"  # still the centre's to rule
    assert replay(story.events) == story.state


def test_a_ruling_to_another_unit_binds_that_unit_only() -> None:
    story = disputed()
    ruling = RuleOnReturnInput(unit="CO-C01", reason="社区公共区域")
    story.act(HOUR, Action.rule_on_return, ruling, SUPERVISOR)
    assert Action.return_ not in allowed_actions(story.state, OTHER)
    story.act(HOUR + 1, Action.reassign, ReassignInput(unit=UNIT), SUPERVISOR)  # changed again
    assert Action.return_ in allowed_actions(story.state, HANDLER)
    assert story.state.handoffs == 3  # return, ruling, reassignment


def test_only_a_returned_case_is_disputed_and_only_by_the_dispatcher() -> None:
    story = Story()
    story.route()
    with pytest.raises(NotAllowedNow):
        story.act(10, Action.dispute, DisputeInput(reason="x"), DISPATCHER)
    story.act(10, Action.return_, ReturnInput(reason="不属于网格"))
    with pytest.raises(Forbidden):
        story.act(20, Action.dispute, DisputeInput(reason="x"), SUPERVISOR)

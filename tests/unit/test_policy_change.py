"""A policy change reaching an open case: running deadlines move by what the new limit changes,
met and missed ones stay, the first due time is kept, the reminder is re-timed, a case under
another policy or already closed is left alone, and the recorded event replays to the same state."""

from __future__ import annotations

from datetime import timedelta

from domain.case import AcceptInput, Action, ExtensionDecisionInput, ExtensionRequestInput
from domain.policy_change import follow
from domain.sla import DeadlineKind
from domain.state import replay
from tests.unit.stories import POLICY, SUPERVISOR, T0, Story

FASTER = POLICY.model_copy(update={"reply": "5wd", "contact": "12h", "warn_share": 0.5})


def test_running_deadlines_move_and_met_ones_stay() -> None:
    story = Story()
    story.route()  # dispatched at T0 + 1 min, Monday
    story.act(10, Action.accept, AcceptInput())
    before = {k: d.model_copy() for k, d in story.state.deadlines.items()}
    step = story.take(follow(story.state, FASTER, story.at(20), actor="admin"))
    [event] = step.events
    assert event.type == "policy_changed" and event.data["policy"] == "SLA-NORMAL"
    deadlines = story.state.deadlines
    accept = deadlines[DeadlineKind.accept]
    assert accept == before[DeadlineKind.accept]  # met: stays as it was
    contact, reply = deadlines[DeadlineKind.contact], deadlines[DeadlineKind.reply]
    assert contact.due_at == T0 + timedelta(hours=12, minutes=1)
    assert reply.due_at == T0 + timedelta(days=7, minutes=1)  # 5 working days: next Monday
    assert reply.original_due_at == before[DeadlineKind.reply].due_at  # 9 days: Wednesday
    assert reply.warn_at == T0 + timedelta(minutes=1) + (reply.due_at - reply.started_at) * 0.5
    assert story.state.routed is not None and story.state.routed.policy == FASTER
    assert replay(story.events) == story.state


def test_the_case_rings_by_the_new_limits() -> None:
    story = Story()
    story.route()
    story.take(follow(story.state, FASTER, story.at(5)))
    story.wait(60 * 13)  # nobody signs for it, nobody contacts: accept (2 h) and contact (12 h)
    missed = [e.data["deadline"] for e in story.events if e.type == "deadline_missed"]
    assert missed == ["accept", "contact"]


def test_a_case_under_another_policy_or_an_unchanged_policy_is_left_alone() -> None:
    story = Story()
    story.route()
    other = FASTER.model_copy(update={"code": "SLA-URGENT"})
    assert follow(story.state, other, story.at(5)).events == []
    assert follow(story.state, POLICY, story.at(5)).events == []  # nothing changes


def test_a_second_change_moves_the_deadlines_again_and_keeps_the_first_due_time() -> None:
    story = Story()
    story.route()  # dispatched at T0 + 1 min, Monday
    first_due = story.state.deadlines[DeadlineKind.reply].due_at
    story.take(follow(story.state, FASTER, story.at(5)))  # reply 5 working days
    slower = FASTER.model_copy(update={"reply": "3wd"})
    story.take(follow(story.state, slower, story.at(10)))
    reply = story.state.deadlines[DeadlineKind.reply]
    assert reply.due_at == T0 + timedelta(days=3, minutes=1)  # Thursday
    assert reply.original_due_at == first_due
    assert replay(story.events) == story.state


def test_an_approved_extension_stands_when_the_policy_changes() -> None:
    story = Story()
    story.route()
    story.act(10, Action.accept, AcceptInput())
    later = T0 + timedelta(days=20)
    story.act(20, Action.request_extension, ExtensionRequestInput(reason="待第三方", due_at=later))
    story.act(30, Action.approve_extension, ExtensionDecisionInput(), SUPERVISOR)
    story.take(follow(story.state, FASTER, story.at(40)))
    assert story.state.deadlines[DeadlineKind.reply].due_at == later
    assert story.state.deadlines[DeadlineKind.contact].due_at == T0 + timedelta(hours=12, minutes=1)

"""The timeline's deadline column, replayed from the events the lifecycle recorded."""

from __future__ import annotations

from datetime import timedelta

from domain.case import (
    AcceptInput,
    Action,
    ContactInput,
    ExtensionDecisionInput,
    ExtensionRequestInput,
    MergeInput,
)
from domain.timeline import deadline_states
from tests.unit.stories import DISPATCHER, SUPERVISOR, T0, Story


def test_deadlines_are_met_late_missed_and_moved() -> None:
    story = Story()
    story.route(0)
    story.act(180, Action.accept, AcceptInput())  # 2 h limit: missed, then met late
    story.act(240, Action.contact, ContactInput(note="已联系"))
    later = T0 + timedelta(days=12)
    asked = ExtensionRequestInput(reason="等待配件", due_at=later)
    story.act(60 * 24, Action.request_extension, asked)
    story.act(60 * 25, Action.approve_extension, ExtensionDecisionInput(), SUPERVISOR)
    states = deadline_states(story.events)
    assert [e.type for e in story.events] == [
        "received",
        "dispatched",
        "deadline_warning",
        "deadline_missed",
        "escalated",
        "accept",
        "contact",
        "request_extension",
        "approve_extension",
    ]
    assert states[0] == {}
    assert {k: v.state for k, v in states[1].items()} == {
        "accept": "pending",
        "contact": "pending",
        "reply": "pending",
    }
    assert states[3]["accept"].state == "missed"
    assert states[5]["accept"].state == "missed"  # a late accept does not unmiss it
    assert states[6]["contact"].state == "met"
    assert states[7]["reply"].due_at == T0 + timedelta(days=9)
    assert states[8]["reply"].due_at == later


def test_deadlines_still_open_at_closure_were_not_needed() -> None:
    story = Story()
    story.route(0)
    story.act(30, Action.accept, AcceptInput())
    story.act(60, Action.merge, MergeInput(into="LC-2026-000002"), DISPATCHER)
    assert story.types[-1] == "closed"
    before, after = deadline_states(story.events)[-3], deadline_states(story.events)[-1]
    assert {k: v.state for k, v in before.items()} == {
        "accept": "met",
        "contact": "pending",
        "reply": "pending",
    }
    assert {k: v.state for k, v in after.items()} == {
        "accept": "met",
        "contact": "not_needed",
        "reply": "not_needed",
    }

"""The timeline's deadline column, replayed from the events the lifecycle recorded."""

from __future__ import annotations

from datetime import timedelta

from domain.case import (
    AcceptInput,
    Action,
    ContactInput,
    ExtensionDecisionInput,
    ExtensionRequestInput,
)
from domain.timeline import deadline_states
from tests.unit.stories import SUPERVISOR, T0, Story


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

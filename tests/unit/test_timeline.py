"""The timeline's deadline column, replayed from events."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from domain.timeline import deadline_states

T0 = datetime(2026, 11, 2, 1, 0, tzinfo=UTC)


@dataclass
class Event:
    type: str
    at: datetime
    data: dict[str, Any] = field(default_factory=dict)


def test_deadlines_are_met_late_missed_and_moved() -> None:
    due = {
        "accept": (T0 + timedelta(hours=2)).isoformat(),
        "contact": (T0 + timedelta(hours=24)).isoformat(),
        "reply": (T0 + timedelta(days=7)).isoformat(),
    }
    events = [
        Event("received", T0),
        Event("dispatched", T0, {"due": due}),
        Event("deadline_missed", T0 + timedelta(hours=2), {"deadline": "accept"}),
        Event("accept", T0 + timedelta(hours=3)),
        Event("contact", T0 + timedelta(hours=4)),
        Event(
            "approve_extension",
            T0 + timedelta(days=1),
            {"due_at": (T0 + timedelta(days=9)).isoformat()},
        ),
    ]
    states = deadline_states(events)
    assert states[0] == {}
    assert {k: v.state for k, v in states[1].items()} == {
        "accept": "pending",
        "contact": "pending",
        "reply": "pending",
    }
    assert states[2]["accept"].state == "missed"
    assert states[3]["accept"].state == "missed"  # a late accept does not unmiss it
    assert states[4]["contact"].state == "met"
    assert states[5]["reply"].due_at == T0 + timedelta(days=9)

"""A repeated request is marked once on its record and its ladder's first rung is told."""

from __future__ import annotations

from domain.repeat import Repeat, mark
from domain.state import replay
from tests.unit.stories import Story


def test_a_third_request_is_marked_and_the_first_rung_told_once() -> None:
    story = Story()
    story.route()
    step = story.take(
        mark(
            story.state,
            Repeat(earlier=["LC-2026-000001", "LC-2026-000002"], basis="reporter"),
            story.at(2),
        )
    )
    [event] = step.events
    assert (event.type, event.data["times"], event.data["basis"]) == ("repeated", 3, "reporter")
    assert [(n.recipient, n.kind) for n in step.notices] == [("CO-C01", "repeat")]
    assert story.state.repeats == ["LC-2026-000001", "LC-2026-000002"]
    again = mark(story.state, Repeat(earlier=["LC-2026-000001"], basis="address"), story.at(3))
    assert again.events == [] and again.notices == []
    assert replay(story.events) == story.state

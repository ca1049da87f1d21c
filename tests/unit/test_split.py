"""拆分 through the pure model: a dispatcher splits a request into child cases with ids derived
from the parent's; the parent waits with its clocks stopped, records each child's closure once,
and closes with the last of them, its reply to the resident gathering theirs."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from domain import alarms, lifecycle
from domain.allowed import Forbidden, NotAllowedNow, allowed_actions
from domain.case import AcceptInput, Action, CaseStatus, Outcome, RejectInput, ReturnInput
from domain.split import ChildCase, ChildClosed, SplitInput
from domain.state import replay
from tests.unit.stories import DISPATCHER, HANDLER, Story

MATTERS = [
    ChildCase(
        category="sanitation.dead_corner",
        title="楼后垃圾",
        location={"address": "怡顺社区 3 号楼", "grid": "C01-G01"},
    ),
    ChildCase(
        category="urban.road_damage",
        title="路面塌陷",
        location={"address": "怡顺路 12 号", "lat": 36.16, "lon": 120.42, "crs": "gcj02"},
    ),
]


def split_story() -> Story:
    story = Story()
    story.route()
    story.act(10, Action.return_, ReturnInput(reason="两件事, 路灯不归我们"))
    story.act(20, Action.split_, SplitInput(children=MATTERS, reason="一单两事"), DISPATCHER)
    return story


def test_a_split_names_each_child_after_its_parent_and_stops_the_parents_clocks() -> None:
    story = split_story()
    step = story.steps[-1]
    assert step.open_children is not None
    children = step.open_children.children
    assert [c.case_id for c in children] == ["LC-2026-000001-1", "LC-2026-000001-2"]
    assert children[1].location.crs == "gcj02"  # as given: the activity stores both
    assert story.state.status is CaseStatus.split_
    assert [c.id for c in story.state.children] == ["LC-2026-000001-1", "LC-2026-000001-2"]
    assert story.state.pending() == [] and alarms.next_alarm(story.state) is None
    assert allowed_actions(story.state) == []
    assert replay(story.events) == story.state


def test_only_a_dispatcher_splits_and_only_before_a_unit_takes_the_case() -> None:
    story = Story()
    story.route()
    with pytest.raises(Forbidden):
        story.act(5, Action.split_, SplitInput(children=MATTERS), HANDLER)
    story.act(10, Action.accept, AcceptInput())
    with pytest.raises(NotAllowedNow):
        story.act(20, Action.split_, SplitInput(children=MATTERS), DISPATCHER)
    with pytest.raises(ValidationError):
        SplitInput(children=MATTERS[:1])  # one matter is no split


def test_the_parent_closes_with_its_last_child_and_gathers_their_replies() -> None:
    story = split_story()
    first = ChildClosed(case_id="LC-2026-000001-1", outcome=Outcome.rated, result="已清运")
    story.take(lifecycle.child_closed(story.state, first, story.at(30)))
    again = story.take(lifecycle.child_closed(story.state, first, story.at(31)))
    assert again.events == []  # told twice, recorded once
    assert story.state.status is CaseStatus.split_
    second = ChildClosed(case_id="LC-2026-000001-2", outcome=Outcome.unrated, result=None)
    step = story.take(lifecycle.child_closed(story.state, second, story.at(40)))
    assert [e.type for e in step.events] == ["child_closed", "closed"]
    assert story.state.outcome is Outcome.split_
    assert story.state.result == "楼后垃圾: 已清运\n路面塌陷: unrated"
    replies = [n for n in step.notices if n.kind == "reply"]
    assert [n.recipient for n in replies] == ["reporter:LC-2026-000001"]
    assert replies[0].params["children"] == "LC-2026-000001-1:rated,LC-2026-000001-2:unrated"
    assert replay(story.events) == story.state


def test_a_child_tells_its_parent_and_sends_the_resident_no_reply_of_its_own() -> None:
    story = Story(case_id="LC-2026-000001-1", parent="LC-2026-000001")
    story.route()
    step = story.act(10, Action.reject, RejectInput(reason="不属于政府职责"), DISPATCHER)
    assert step.tell_parent == ChildClosed(
        case_id="LC-2026-000001-1", outcome=Outcome.rejected, result=None
    )
    assert [n for n in step.notices if n.kind == "reply"] == []

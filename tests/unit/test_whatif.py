"""A proposed policy tried on recorded cases through the lifecycle model: the recorded policy
gives back the recording, a tighter limit turns on-time into late with its reminder and rung,
a shorter rating window closes the case before the resident's recorded rating (diverged)."""

from __future__ import annotations

from datetime import timedelta

from domain import lifecycle
from domain.case import (
    AcceptInput,
    Action,
    ContactInput,
    Grade,
    RateInput,
    ReplyInput,
    Severity,
)
from domain.linkage import LinkageChange, LinkageStatus, OpenLinkageInput
from domain.permissions import Principal, Role
from domain.whatif import PolicyChange, compare, play_again, totals
from tests.unit.stories import POLICY, SUPERVISOR, T0, Story

LATER = T0 + timedelta(days=60)  # long after every recorded step


def rated_case(**intake: object) -> Story:
    """Signed for after 10 minutes, replied after 10 hours, rated 10 hours later."""
    story = Story(**intake)
    story.route()
    story.act(10, Action.accept, AcceptInput())
    story.act(30, Action.contact, ContactInput(note="电话联系王女士"))
    story.act(600, Action.reply, ReplyInput(result="已组织清理"))
    resident = Principal(subject="resident", role=Role.resident, case_id=story.intake.case_id)
    story.act(1200, Action.rate, RateInput(grade=Grade.satisfied, solved=True), resident)
    return story


def test_the_recorded_policy_plays_the_recording_again() -> None:
    story = rated_case()
    played = play_again(story.events, POLICY, LATER)
    assert played is not None
    state, events, diverged = played
    assert diverged == 0
    assert [(e.type, e.at) for e in events] == [(e.type, e.at) for e in story.events[1:]]
    assert state == story.state


def test_linkages_the_case_opened_itself_are_opened_again_not_copied() -> None:
    """A major case links its agencies at dispatch and a supervisor blows the whistle again
    after the first linkage closed: the model opens both again, the agencies' steps are taken
    as recorded, and the recording comes back event for event."""
    story = Story()
    story.route(severity=Severity.major, linkage_agencies=["DA-POLICE"])
    story.act(10, Action.accept, AcceptInput())
    story.act(20, Action.contact, ContactInput(note="约谈"))
    for minutes in (300, 900):
        linkage = story.state.linkage
        assert linkage is not None
        done = linkage.model_copy(update={"status": LinkageStatus.completed})
        closed = LinkageChange(type="linkage_closed", actor="system", view=done)
        story.now = story.at(minutes)
        story.take(lifecycle.linkage_changed(story.state, closed, story.now))
        if minutes == 300:
            again = OpenLinkageInput(reason="反复出现", agencies=["SD-CIVIL"])
            story.act(400, Action.open_linkage, again, SUPERVISOR)
    story.act(1000, Action.reply, ReplyInput(result="联合整治完毕"))
    story.wait((LATER - T0).total_seconds() / 60)  # nobody rated: closed unrated
    assert story.types.count("linkage_opened") == 2
    played = play_again(story.events, POLICY, LATER)
    assert played is not None
    state, events, diverged = played
    assert diverged == 0
    assert [(e.type, e.at) for e in events] == [(e.type, e.at) for e in story.events[1:]]
    assert state == story.state


def test_a_tighter_accept_limit_makes_the_same_signing_late() -> None:
    story = rated_case()
    state, events, diverged = play_again(
        story.events, PolicyChange(accept="5m").applied_to(POLICY), LATER
    ) or (None, [], 0)
    assert state is not None and diverged == 0
    types = [e.type for e in events]
    # Reminder at 80 % of 5 minutes, missed at 5, the first rung at once; then signed at 10.
    assert types[:5] == ["dispatched", "deadline_warning", "deadline_missed", "escalated", "accept"]
    assert state.overdue and state.escalation_level == 1
    assert state.outcome is not None and state.outcome.value == "rated"


def test_a_shorter_rating_window_closes_the_case_before_the_recorded_rating() -> None:
    story = rated_case()
    played = play_again(story.events, PolicyChange(rating_window="1h").applied_to(POLICY), LATER)
    assert played is not None
    state, events, diverged = played
    assert diverged == 1  # the resident's rating came after the window had closed the case
    assert state.outcome is not None and state.outcome.value == "unrated"
    assert "rate" not in [e.type for e in events]


def test_the_comparison_covers_the_policys_cases_per_unit_and_category() -> None:
    ours = rated_case()
    other = rated_case(case_id="LC-2026-000002", category="public_order.flyers")
    rows = compare([ours.events, other.events], "SLA-NORMAL", PolicyChange(accept="5m"), LATER)
    assert [(r.unit, r.category) for r in rows] == [
        ("GT-C01-G01", "public_order.flyers"),
        ("GT-C01-G01", "sanitation.dead_corner"),
    ]
    recorded, proposed, diverged = totals(rows)
    assert (recorded.cases, recorded.accepted_on_time, recorded.overdue) == (2, 2, 0)
    assert (proposed.cases, proposed.accepted_on_time, proposed.overdue) == (2, 0, 2)
    assert (proposed.response.numerator, proposed.response.denominator) == (0, 2)
    assert (recorded.escalation_steps, proposed.escalation_steps) == (0, 2)
    assert (recorded.reminders, proposed.reminders, diverged) == (0, 2, 0)
    assert compare([ours.events], "SLA-URGENT", PolicyChange(accept="5m"), LATER) == []

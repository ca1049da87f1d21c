"""The life of a case, told through the pure model: what each action and alarm records, what
is refused and why, and that folding the recorded events gives back the very same state."""

from __future__ import annotations

from datetime import timedelta

import pytest

from domain import lifecycle
from domain.allowed import Forbidden, NotAllowedNow, allowed_actions, check
from domain.case import (
    AcceptInput,
    Action,
    CaseStatus,
    ConfirmInput,
    ContactInput,
    Grade,
    Outcome,
    RateInput,
    ReplyInput,
    ResolveOnSiteInput,
    ResumeInput,
    Severity,
    SuspendInput,
)
from domain.linkage import LinkageChange, LinkageStatus
from domain.permissions import Principal, Role
from domain.sla import DeadlineKind
from domain.state import replay
from tests.unit.stories import COMMITTEE, DISPATCHER, T0, Story

RESIDENT = Principal(subject="resident", role=Role.resident, case_id="LC-2026-000001")


def test_the_standard_case_records_one_event_per_step_and_closes_rated_on_time() -> None:
    story = Story()
    story.route()
    story.act(10, Action.accept, AcceptInput())
    story.act(30, Action.contact, ContactInput(note="电话联系王女士"))
    story.act(600, Action.reply, ReplyInput(result="已组织清理"))
    closing = story.act(1200, Action.rate, RateInput(grade=Grade.satisfied, solved=True), RESIDENT)
    assert story.types == [
        "received",
        "dispatched",
        "accept",
        "contact",
        "reply",
        "rate",
        "closed",
    ]
    assert story.state.status is CaseStatus.closed and story.state.outcome is Outcome.rated
    on_time = closing.events[-1].data["deadlines"]
    assert {kind: d["on_time"] for kind, d in on_time.items()} == {
        "accept": True,
        "contact": True,
        "reply": True,
        "rating": True,
    }
    # Everyone who filed it hears the result, once.
    assert [(n.recipient, n.kind) for n in closing.notices] == [
        ("reporter:LC-2026-000001", "reply")
    ]
    assert replay(story.events) == story.state


def test_due_times_are_recorded_in_the_dispatch_and_count_working_days() -> None:
    story = Story()
    dispatched = story.route().events[-1]
    # Monday 09:01 in Shanghai: accept 2 h, contact 24 h, reply 7 working days (next Wednesday).
    assert dispatched.data["due"] == {
        "accept": (T0 + timedelta(minutes=121)).isoformat(),
        "contact": (T0 + timedelta(hours=24, minutes=1)).isoformat(),
        "reply": (T0 + timedelta(days=9, minutes=1)).isoformat(),
    }


def test_a_missed_deadline_warns_first_then_climbs_one_rung_every_four_hours() -> None:
    story = Story()
    story.route()
    story.wait(60 * 14)  # nobody signs for it
    assert story.types[2:] == [
        "deadline_warning",  # at 80 % of the 2 h accept limit
        "deadline_missed",
        "escalated",  # community secretary, at once
        "escalated",  # governance centre, 4 h later
        "linkage_opened",  # escalated to the subdistrict: a big issue
        "escalated",  # district supervision, 4 h after that
    ]
    assert story.state.escalation_level == 3 and story.state.overdue
    assert [e.at - T0 for e in story.events if e.type == "escalated"] == [
        timedelta(minutes=121),
        timedelta(minutes=121, hours=4),
        timedelta(minutes=121, hours=8),
    ]
    assert replay(story.events) == story.state


def test_an_action_needs_an_authenticated_principal_allowed_on_this_case() -> None:
    story = Story()
    story.route()
    with pytest.raises(Forbidden, match="authenticated principal"):
        check(story.state, Action.accept, AcceptInput(), story.now)
    # The residents' committee of the community reads and confirms; it does not sign for a case
    # dispatched to its grid team.
    committee = AcceptInput(principal=COMMITTEE)
    with pytest.raises(Forbidden):
        check(story.state, Action.accept, committee, story.now)
    assert allowed_actions(story.state, COMMITTEE) == []
    assert Action.accept not in allowed_actions(story.state, DISPATCHER)
    assert Action.reassign in allowed_actions(story.state, DISPATCHER)


def test_the_loop_order_is_enforced_with_what_is_allowed_instead() -> None:
    story = Story()
    story.route()
    story.act(10, Action.accept, AcceptInput())
    with pytest.raises(NotAllowedNow) as refused:
        story.act(20, Action.reply, ReplyInput(result="已处理"))
    assert "contact" in refused.value.details["allowed_actions"]
    assert refused.value.details["status"] == "in_progress"


def test_a_suspension_stops_every_clock_and_resumes_with_the_time_left() -> None:
    story = Story()
    story.route()
    story.act(10, Action.accept, AcceptInput())
    contact_due = story.state.deadlines[DeadlineKind.contact].due_at
    story.act(60, Action.suspend, SuspendInput(reason="等待鉴定"))
    story.act(60 * 30, Action.resume, ResumeInput())
    assert story.state.deadlines[DeadlineKind.contact].due_at == contact_due + timedelta(hours=29)
    assert not story.state.overdue
    assert replay(story.events) == story.state


def test_a_major_case_links_its_agencies_and_the_lead_unit_replies_after_them() -> None:
    story = Story()
    step = story.route(severity=Severity.major, linkage_agencies=["DA-POLICE", "SD-CIVIL"])
    assert step.start_linkage is not None
    assert [p.unit for p in step.start_linkage.parts] == ["DA-POLICE", "SD-CIVIL"]
    assert {(n.recipient, n.kind) for n in step.notices} == {
        ("GT-C01-G01", "dispatched"),
        ("DA-POLICE", "linkage"),
        ("SD-CIVIL", "linkage"),
    }
    story.act(10, Action.accept, AcceptInput())
    story.act(20, Action.contact, ContactInput(note="约谈"))
    assert Action.reply not in allowed_actions(story.state)
    linkage = story.state.linkage
    assert linkage is not None
    done = linkage.model_copy(update={"status": LinkageStatus.completed})
    closed = LinkageChange(type="linkage_closed", actor="system", view=done)
    story.take(lifecycle.linkage_changed(story.state, closed, story.at(300)))
    assert Action.reply in allowed_actions(story.state)
    assert replay(story.events) == story.state


def test_a_grid_event_solved_on_the_spot_is_confirmed_by_the_committee() -> None:
    story = Story(channel="grid_patrol", photo_url="https://example.org/before.jpg")
    story.route()
    worker = Principal(subject="ge", role=Role.grid_worker, grids=("C01-G01",))
    solved = ResolveOnSiteInput(evidence_url="https://example.org/after.jpg", note="已清理")
    story.act(15, Action.resolve_on_site, solved, worker)
    assert allowed_actions(story.state, COMMITTEE) == [Action.confirm]
    story.act(120, Action.confirm, ConfirmInput(), COMMITTEE)
    assert story.state.outcome is Outcome.self_resolved
    assert replay(story.events) == story.state


def test_no_rating_closes_unrated_unless_the_unit_goes_unrated_too_often() -> None:
    for unrated_before, outcome in ((0, Outcome.unrated), (3, None)):
        story = Story()
        story.route()
        story.act(10, Action.accept, AcceptInput())
        story.act(20, Action.contact, ContactInput(note="已联系"))
        story.act(600, Action.reply, ReplyInput(result="已处理"))
        story.wait(60 * 24 * 10, unrated_recently=unrated_before)
        assert story.state.outcome is outcome
        assert (story.state.review == "pending") is (outcome is None)
        assert replay(story.events) == story.state

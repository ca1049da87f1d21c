"""The return-visit desk (回访) through the pure model: a reached call is the rating, unreached
attempts close the case unreachable on the policy's third working day, and a sample of app
ratings is verified by a call, the call's finding kept beside the app's grade."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from pydantic import ValidationError

from domain.allowed import Forbidden, NotAllowedNow, allowed_actions
from domain.calendar import WorkingDays
from domain.case import (
    AcceptInput,
    Action,
    CaseStatus,
    ContactInput,
    Grade,
    Outcome,
    RateInput,
    ReplyInput,
)
from domain.kpi import facts_of, rates
from domain.permissions import Principal, Role
from domain.state import replay
from domain.visit import VisitInput, sampled_for_verification, unreached_days
from tests.unit.stories import HANDLER, POLICY, Story

VISITOR = Principal(subject="sun", role=Role.visitor)
RESIDENT = Principal(subject="resident", role=Role.resident, case_id="LC-2026-000001")
# T0 is Monday 09:00 in Shanghai; the reply below is at Monday 19:00.
TUESDAY_10, TUESDAY_15, WEDNESDAY_10, THURSDAY_10 = 1500, 1800, 2940, 4380
UNREACHED = VisitInput(reached=False, note="无人接听")


def replied(**policy: object) -> Story:
    story = Story()
    story.route(policy=POLICY.model_copy(update=policy))
    story.act(10, Action.accept, AcceptInput())
    story.act(30, Action.contact, ContactInput(note="电话联系王女士"))
    story.act(600, Action.reply, ReplyInput(result="已组织清理"))
    return story


def test_the_call_is_due_the_next_working_day_after_the_reply() -> None:
    story = replied()
    assert story.state.visit_due_at == datetime(2026, 11, 3, 11, 0, tzinfo=UTC)  # Tue 19:00
    assert story.events[-1].data["visit_due"] == "2026-11-03T11:00:00+00:00"


def test_a_reached_resident_rates_through_the_call() -> None:
    story = replied()
    story.act(TUESDAY_10, Action.visit, VisitInput(reached=True, grade=Grade.satisfied), VISITOR)
    assert story.types[-2:] == ["visit", "closed"]
    assert story.state.outcome is Outcome.rated and story.state.grade is Grade.satisfied
    assert replay(story.events) == story.state


def test_unsatisfied_on_the_call_means_re_handling_as_in_the_app() -> None:
    story = replied()
    grade = VisitInput(reached=True, grade=Grade.unsatisfied, solved=False)
    story.act(TUESDAY_10, Action.visit, grade, VISITOR)
    assert story.types[-1] == "rehandling"
    assert story.state.status is CaseStatus.in_progress


def test_three_unreached_working_days_close_the_case_unreachable() -> None:
    story = replied()
    story.act(TUESDAY_10, Action.visit, UNREACHED, VISITOR)
    story.act(TUESDAY_15, Action.visit, UNREACHED, VISITOR)  # the same day counts once
    story.act(WEDNESDAY_10, Action.visit, UNREACHED, VISITOR)
    assert story.state.status is CaseStatus.replied
    assert story.state.unreached == [date(2026, 11, 3), date(2026, 11, 4)]
    story.act(THURSDAY_10, Action.visit, UNREACHED, VISITOR)
    assert story.state.outcome is Outcome.unreachable
    assert replay(story.events) == story.state
    counts = facts_of(story.state).counts()
    assert (counts.unreachable, counts.rated, counts.satisfied, counts.unrated) == (1, 0, 0, 0)
    assert rates(counts)["unreachable"].numerator == 1


def test_the_policy_sets_how_many_attempts_close_it() -> None:
    story = replied(visit_attempts=1)
    story.act(TUESDAY_10, Action.visit, UNREACHED, VISITOR)
    assert story.state.outcome is Outcome.unreachable


def test_a_rest_day_attempt_does_not_count() -> None:
    saturday = datetime(2026, 11, 7, 2, 0, tzinfo=UTC)
    assert unreached_days([], saturday, WorkingDays()) == []
    monday = datetime(2026, 11, 9, 2, 0, tzinfo=UTC)
    assert unreached_days([], monday, WorkingDays()) == [date(2026, 11, 9)]


def test_an_app_rating_in_the_sample_waits_for_its_verification_call() -> None:
    story = replied(verification_share=1.0)
    story.act(700, Action.rate, RateInput(grade=Grade.satisfied, solved=True), RESIDENT)
    assert story.state.status is CaseStatus.replied and story.state.verification == "pending"
    assert allowed_actions(story.state) == [Action.visit]
    called = VisitInput(reached=True, grade=Grade.unsatisfied, solved=False)
    story.act(TUESDAY_10, Action.visit, called, VISITOR)
    assert story.events[-2].data["agrees"] is False
    assert story.events[-2].data["app_grade"] == "satisfied"
    assert story.state.outcome is Outcome.rated
    assert story.state.grade is Grade.satisfied  # the app's rating stays; the call's beside it
    assert story.state.verification == "disagrees"
    assert replay(story.events) == story.state


def test_an_unverified_app_rating_closes_rated_when_the_window_ends() -> None:
    story = replied(verification_share=1.0)
    story.act(700, Action.rate, RateInput(grade=Grade.satisfied), RESIDENT)
    story.wait(60 * 24 * 10)
    assert story.state.outcome is Outcome.rated and story.state.verification == "pending"


def test_ratings_outside_the_sample_or_not_from_the_app_close_at_once() -> None:
    for share, by in ((0.0, RESIDENT), (1.0, Principal(subject="zhao", role=Role.dispatcher))):
        story = replied(verification_share=share)
        story.act(700, Action.rate, RateInput(grade=Grade.satisfied), by)
        assert story.state.outcome is Outcome.rated and story.state.verification is None


def test_the_sample_is_chosen_from_the_case_id_alone() -> None:
    ids = [f"LC-2026-{n:06d}" for n in range(1, 10_001)]
    chosen = [i for i in ids if sampled_for_verification(i, 0.1)]
    assert 900 <= len(chosen) <= 1100
    assert chosen == [i for i in ids if sampled_for_verification(i, 0.1)]
    assert not any(sampled_for_verification(i, 0.0) for i in ids[:100])
    assert all(sampled_for_verification(i, 1.0) for i in ids[:100])


def test_only_the_visit_desk_calls_and_only_after_a_reply() -> None:
    story = replied()
    for who in (HANDLER, RESIDENT):
        with pytest.raises(Forbidden):
            story.act(TUESDAY_10, Action.visit, UNREACHED, who)
    early = Story()
    early.route()
    with pytest.raises(NotAllowedNow):
        early.act(10, Action.visit, UNREACHED, VISITOR)


def test_a_call_says_whether_it_reached_the_resident() -> None:
    with pytest.raises(ValidationError):
        VisitInput(reached=True)
    with pytest.raises(ValidationError):
        VisitInput(reached=False)
    with pytest.raises(ValidationError):
        VisitInput(reached=False, note="占线", grade=Grade.satisfied)

"""申诉 and 核减 through the pure model: a unit appeals an unsatisfied rating or a missed deadline
within the policy's window, with a reason and evidence; a supervisor rules within the policy's
limit or the ladder climbs; an exempted case says why; a closed case takes an appeal too."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from domain import alarms
from domain.allowed import Forbidden, NotAllowedNow, allowed_actions
from domain.appeal import AppealInput, RuleOnAppealInput, Ruling
from domain.case import (
    AcceptInput,
    Action,
    ContactInput,
    Grade,
    RateInput,
    ReplyInput,
    ReviewCloseInput,
)
from domain.permissions import Principal, Role
from domain.sla import DeadlineKind
from domain.state import replay
from tests.unit.stories import DISPATCHER, HANDLER, POLICY, SUPERVISOR, Story

EVIDENCE = ["https://photos.example/before.jpg", "https://photos.example/after.jpg"]
OTHER_UNIT = Principal(subject="liu", role=Role.unit_handler, unit="SD-URBAN")
DAY = 24 * 60


def replied(**policy: object) -> Story:
    story = Story()
    story.route(policy=POLICY.model_copy(update=policy))
    story.act(10, Action.accept, AcceptInput())
    story.act(20, Action.contact, ContactInput(note="已电话联系"))
    story.act(60, Action.reply, ReplyInput(result="已清理"))
    return story


def unsatisfied(**policy: object) -> Story:
    story = replied(**policy)
    story.act(120, Action.rate, RateInput(grade=Grade.unsatisfied), DISPATCHER)  # 重办
    return story


def appeal(against: str = "unsatisfied", **fields: object) -> AppealInput:
    return AppealInput.model_validate(
        {"against": against, "reason": "诉求人要求超出职责", "evidence": EVIDENCE, **fields}
    )


def test_an_exempted_appeal_takes_the_case_out_of_the_units_score_and_says_why() -> None:
    story = unsatisfied()
    step = story.act(130, Action.appeal, appeal())
    assert story.events[-1].type == "appeal"
    assert story.events[-1].data["ground"] == "unsatisfied"
    assert story.events[-1].data["evidence"] == EVIDENCE
    assert [(n.recipient, n.kind) for n in step.notices] == [("SD-CENTER", "appeal")]
    # The supervisor's ruling runs on a clock of its own (3 working days by default).
    ruling = story.state.deadlines[DeadlineKind.appeal]
    assert ruling.due_at == story.at(130 + 3 * DAY)  # Monday 11:10 -> Thursday 11:10
    assert Action.rule_on_appeal in allowed_actions(story.state, SUPERVISOR)
    assert Action.appeal not in allowed_actions(story.state)
    step = story.act(
        200,
        Action.rule_on_appeal,
        RuleOnAppealInput(ruling=Ruling.exempted, reason="超出职责范围, 予以核减"),
        SUPERVISOR,
    )
    assert story.state.exemption == "超出职责范围, 予以核减"
    assert story.state.appeal is not None and story.state.appeal.status == "exempted"
    assert story.state.deadlines[DeadlineKind.appeal].met_at == story.at(200)
    assert [(n.recipient, n.kind) for n in step.notices] == [("GT-C01-G01", "appeal_ruled")]
    # The raw figures stay: the rating is still unsatisfied, the case still re-handled.
    assert story.state.grade is Grade.unsatisfied and story.state.rehandled
    assert replay(story.events) == story.state


def test_an_upheld_appeal_leaves_the_case_in_the_score() -> None:
    story = unsatisfied()
    story.act(130, Action.appeal, appeal())
    story.act(
        140,
        Action.rule_on_appeal,
        RuleOnAppealInput(ruling=Ruling.upheld, reason="证据不足"),
        SUPERVISOR,
    )
    assert story.state.exemption is None
    assert story.state.appeal is not None and story.state.appeal.status == "upheld"
    with pytest.raises(NotAllowedNow, match="appealed already"):
        story.act(150, Action.appeal, appeal())


def test_a_missed_deadline_is_appealed_within_the_window_only() -> None:
    story = Story()
    story.route()
    story.act(3 * 60, Action.accept, AcceptInput())  # the 2 h accept deadline was missed
    with pytest.raises(NotAllowedNow, match="contact deadline was not missed"):
        story.act(3 * 60 + 1, Action.appeal, appeal("deadline", deadline="contact"))
    late = Story()
    late.route()
    late.act(3 * 60, Action.accept, AcceptInput())
    # 5 working days from the accept deadline (Monday 11:01): next Monday 11:01.
    with pytest.raises(NotAllowedNow, match="appeal window"):
        late.act(7 * DAY + 2 * 60 + 2, Action.appeal, appeal("deadline", deadline="accept"))
    story.act(7 * DAY, Action.appeal, appeal("deadline", deadline="accept"))
    assert story.events[-1].data["ground"] == "deadline:accept"


def test_a_ruling_not_made_in_time_climbs_the_ladder_without_making_the_case_overdue() -> None:
    story = unsatisfied()
    story.act(130, Action.appeal, appeal())
    story.wait(130 + 4 * DAY)
    missed = [e for e in story.events if e.type == "deadline_missed"]
    assert [e.data["deadline"] for e in missed] == ["appeal"]
    climbed = [e for e in story.events if e.type == "escalated"]
    assert climbed[0].data["deadline"] == "appeal" and climbed[0].data["to"] == "CO-C01"
    assert not story.state.overdue
    assert story.state.escalation_level >= 2 and story.state.linkage is None  # no agencies
    assert replay(story.events) == story.state


def test_who_may_appeal_and_who_rules() -> None:
    story = unsatisfied()
    for who in (SUPERVISOR, DISPATCHER, OTHER_UNIT):
        with pytest.raises(Forbidden):
            story.act(130, Action.appeal, appeal(), who)
    story.act(130, Action.appeal, appeal())
    for who in (HANDLER, DISPATCHER):
        with pytest.raises(Forbidden):
            story.act(
                140,
                Action.rule_on_appeal,
                RuleOnAppealInput(ruling=Ruling.exempted, reason="x"),
                who,
            )


def test_a_closed_case_is_appealed_and_ruled_and_its_ruling_has_a_clock() -> None:
    story = unsatisfied()
    story.act(180, Action.reply, ReplyInput(result="再次清理"))
    story.act(240, Action.rate, RateInput(grade=Grade.unsatisfied), DISPATCHER)
    story.act(300, Action.review_close, ReviewCloseInput(verdict="已尽力"), SUPERVISOR)
    assert story.state.outcome is not None
    assert allowed_actions(story.state) == [Action.reopen, Action.appeal]
    assert alarms.next_alarm(story.state) is None
    story.act(400, Action.appeal, appeal())
    alarm = alarms.next_alarm(story.state)
    assert alarm is not None and alarm.deadline is DeadlineKind.appeal
    assert allowed_actions(story.state) == [Action.rule_on_appeal]
    story.act(
        500,
        Action.rule_on_appeal,
        RuleOnAppealInput(ruling=Ruling.exempted, reason="核减"),
        SUPERVISOR,
    )
    assert alarms.next_alarm(story.state) is None
    assert allowed_actions(story.state) == [Action.reopen]  # nothing left to appeal
    assert replay(story.events) == story.state


def test_an_appeal_names_its_ground_and_brings_evidence() -> None:
    with pytest.raises(ValidationError, match="accept, contact or reply"):
        appeal("deadline")
    with pytest.raises(ValidationError, match="accept, contact or reply"):
        appeal("deadline", deadline="rating")
    with pytest.raises(ValidationError, match="names no deadline"):
        appeal("unsatisfied", deadline="reply")
    with pytest.raises(ValidationError, match="at least 1"):
        appeal(evidence=[])
    with pytest.raises(ValidationError):
        appeal(evidence=["not a url"])

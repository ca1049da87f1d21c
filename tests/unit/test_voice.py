"""The resident's voice through the pure model: more information and chasers reach the unit
while the case is open, chasers are counted and limited per local day, and neither is taken
once the unit has replied."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from domain.allowed import Forbidden, NotAllowedNow, allowed_actions
from domain.case import (
    AcceptInput,
    Action,
    ContactInput,
    ReplyInput,
    ResumeInput,
    SuspendInput,
)
from domain.permissions import Principal, Role
from domain.state import replay
from domain.voice import AddInfoInput, ChaseInput
from tests.unit.stories import DISPATCHER, HANDLER, POLICY, Story

RESIDENT = Principal(subject="resident", role=Role.resident, case_id="LC-2026-000001")
OTHER_RESIDENT = Principal(subject="resident", role=Role.resident, case_id="LC-2026-000002")
# T0 is Monday 09:00 in Shanghai; Tuesday 09:00 is a day later.
TUESDAY_9 = 24 * 60


def accepted(**policy: object) -> Story:
    story = Story()
    story.route(policy=POLICY.model_copy(update=policy))
    story.act(10, Action.accept, AcceptInput())
    return story


def test_more_information_is_recorded_and_sent_to_the_unit() -> None:
    story = accepted()
    photo = AddInfoInput(note="又堆了", photo_url="https://photos.example/b.jpg")
    step = story.act(20, Action.add_info, photo, RESIDENT)
    assert story.events[-1].data == {"note": "又堆了", "photo_url": "https://photos.example/b.jpg"}
    assert [(n.recipient, n.kind) for n in step.notices] == [("GT-C01-G01", "add_info")]


def test_chasers_are_counted_and_limited_per_local_day() -> None:
    story = accepted(chases_per_day=2)
    story.act(20, Action.chase, ChaseInput(), RESIDENT)
    step = story.act(30, Action.chase, ChaseInput(note="还没人来"), DISPATCHER)  # by the hotline
    assert [(n.recipient, n.kind) for n in step.notices] == [("GT-C01-G01", "chase")]
    with pytest.raises(NotAllowedNow, match="2 chaser"):
        story.act(40, Action.chase, ChaseInput(), RESIDENT)
    story.act(TUESDAY_9, Action.chase, ChaseInput(), RESIDENT)  # a new day
    assert story.state.chased and len(story.state.chased) == 3
    assert replay(story.events) == story.state


def test_the_voice_is_heard_while_the_clock_stands_still_but_not_after_the_reply() -> None:
    story = accepted()
    story.act(20, Action.suspend, SuspendInput(reason="等居民提供照片"))
    assert {Action.add_info, Action.chase} <= set(allowed_actions(story.state, RESIDENT))
    story.act(30, Action.add_info, AddInfoInput(photo_url="https://photos.example/c.jpg"), RESIDENT)
    story.act(40, Action.resume, ResumeInput())
    story.act(50, Action.contact, ContactInput(note="已联系"))
    story.act(60, Action.reply, ReplyInput(result="已清理"))
    with pytest.raises(NotAllowedNow):
        story.act(70, Action.chase, ChaseInput(), RESIDENT)


def test_only_its_own_resident_or_a_dispatcher_speaks_for_it() -> None:
    story = accepted()
    for who in (HANDLER, OTHER_RESIDENT):
        with pytest.raises(Forbidden):
            story.act(20, Action.chase, ChaseInput(), who)
    assert allowed_actions(story.state, RESIDENT) == [Action.add_info, Action.chase]


def test_information_is_a_note_or_a_photo() -> None:
    with pytest.raises(ValidationError):
        AddInfoInput()
    with pytest.raises(ValidationError):
        AddInfoInput(photo_url="not a url")

"""What a case tells people: each notification names a template (its kind) and the template's
parameters, which hold the case id, codes and the subdistrict's local times, never what anyone
wrote (a note may carry a name or a phone number); the contact is looked up when it is sent."""

from __future__ import annotations

from domain.case import (
    AcceptInput,
    Action,
    ContactInput,
    Grade,
    RateInput,
    ReplyInput,
    UrgeInput,
)
from domain.common import reported_case, reporter
from domain.permissions import Principal, Role
from tests.unit.stories import SUPERVISOR, Story

CASE = "LC-2026-000001"
RESIDENT = Principal(subject="resident", role=Role.resident, case_id=CASE)
PERSONAL = "王女士 13912345678"


def test_a_standard_case_sends_templates_with_codes_and_local_times_only() -> None:
    story = Story()
    story.route()  # Monday 09:01 in Shanghai: accept within 2 h
    story.act(5, Action.urge, UrgeInput(note=f"请联系{PERSONAL}"), SUPERVISOR)
    story.act(10, Action.accept, AcceptInput())
    story.act(30, Action.contact, ContactInput(note=f"电话联系{PERSONAL}"))
    story.act(600, Action.reply, ReplyInput(result=f"已清理, {PERSONAL}满意"))  # 19:00
    story.act(1200, Action.rate, RateInput(grade=Grade.satisfied, solved=True), RESIDENT)

    sent = [(n.recipient, n.kind, n.params) for step in story.steps for n in step.notices]
    assert sent == [
        ("GT-C01-G01", "dispatched", {"case_id": CASE, "due_at": "2026-11-02 11:01"}),
        ("GT-C01-G01", "urge", {"case_id": CASE}),
        # the rating SMS: the window is 3 working days from the reply
        (f"reporter:{CASE}", "rating", {"case_id": CASE, "due_at": "2026-11-05 19:00"}),
        (f"reporter:{CASE}", "reply", {"case_id": CASE, "outcome": "rated"}),
    ]
    texts = " ".join(v for _, _, params in sent for v in params.values())
    assert "王女士" not in texts and "13912345678" not in texts and "卫生" not in texts


def test_a_reporter_recipient_names_its_case_and_a_unit_names_none() -> None:
    assert reported_case(reporter(CASE)) == CASE
    assert reported_case("GT-C01-G01") is None

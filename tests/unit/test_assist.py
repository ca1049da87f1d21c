"""主办/协办 through the pure model: the lead unit asks, a dispatcher or supervisor decides, and
an approved request gives each assisting unit a part on the linkage machinery (kind `assist`),
during which the lead unit cannot reply; a denied one leaves the case as it was."""

from __future__ import annotations

import pytest

from domain.allowed import Forbidden, NotAllowedNow, allowed_actions
from domain.assist import AssistDecisionInput, AssistRequestInput
from domain.case import AcceptInput, Action, ContactInput, ReplyInput
from domain.linkage import AgencyStatus, LinkageKind, LinkageStatus
from domain.permissions import CaseScope, Principal, Role, permitted
from domain.state import replay
from tests.unit.stories import DISPATCHER, HANDLER, SUPERVISOR, UNIT, Story

HELP = AssistRequestInput(units=["SD-URBAN", "SD-URBAN", "CO-C01"], reason="需城管和社区配合")
URBAN = Principal(subject="zhou", role=Role.unit_handler, unit="SD-URBAN")


def in_progress() -> Story:
    story = Story()
    story.route()
    story.act(10, Action.accept, AcceptInput())
    story.act(20, Action.contact, ContactInput(note="已联系"))
    return story


def test_the_lead_unit_asks_and_a_dispatcher_gives_each_assisting_unit_a_part() -> None:
    story = in_progress()
    with pytest.raises(Forbidden):  # only the lead unit's staff ask
        story.act(30, Action.request_assist, HELP, URBAN)
    story.act(30, Action.request_assist, HELP)
    assert story.state.assist is not None and story.state.assist.units == ["SD-URBAN", "CO-C01"]
    assert Action.request_assist not in allowed_actions(story.state)
    with pytest.raises(Forbidden):  # the lead unit does not approve its own request
        story.act(35, Action.approve_assist, AssistDecisionInput())
    step = story.act(40, Action.approve_assist, AssistDecisionInput(note="同意"), DISPATCHER)

    assert [e.type for e in step.events] == ["approve_assist", "linkage_opened"]
    assert step.start_linkage is not None and step.start_linkage.kind is LinkageKind.assist
    linkage = story.state.linkage
    assert linkage is not None and linkage.kind is LinkageKind.assist
    assert (linkage.lead_unit, [p.unit for p in linkage.agencies]) == (UNIT, ["SD-URBAN", "CO-C01"])
    assert all(p.status is AgencyStatus.summoned for p in linkage.agencies)
    assert {n.recipient for n in step.notices} == {"SD-URBAN", "CO-C01"}
    # While the parts are open the lead unit may not reply, nor ask for more.
    assert not {Action.reply, Action.request_assist} & set(allowed_actions(story.state))
    with pytest.raises(NotAllowedNow):
        story.act(50, Action.reply, ReplyInput(result="已处理"))
    assert story.state.assists == 1 and story.state.assist is None
    assert replay(story.events) == story.state


def test_a_denied_request_changes_nothing_but_the_record() -> None:
    story = in_progress()
    story.act(30, Action.request_assist, HELP)
    story.act(40, Action.deny_assist, AssistDecisionInput(note="本单位可办"), SUPERVISOR)
    assert (story.state.assist, story.state.assists, story.state.linkage) == (None, 0, None)
    assert Action.reply in allowed_actions(story.state)
    assert replay(story.events) == story.state


def test_the_lead_unit_cannot_assist_itself() -> None:
    story = in_progress()
    with pytest.raises(NotAllowedNow, match="itself"):
        story.act(30, Action.request_assist, AssistRequestInput(units=[UNIT], reason="x"))


def test_an_assisting_units_staff_see_the_case_and_act_on_their_part_only() -> None:
    story = in_progress()
    story.act(30, Action.request_assist, HELP)
    story.act(40, Action.approve_assist, AssistDecisionInput(), DISPATCHER)
    linkage = story.state.linkage
    assert linkage is not None and linkage.status is LinkageStatus.open
    scope = CaseScope(case_id="LC-2026-000001", unit=UNIT, agencies=("SD-URBAN", "CO-C01"))
    assert permitted(URBAN, "read", scope) and permitted(URBAN, "report", scope)
    assert permitted(URBAN, "agency_done", scope)
    assert not permitted(URBAN, "reply", scope) and not permitted(URBAN, "accept", scope)
    stranger = Principal(subject="x", role=Role.unit_handler, unit="DA-POLICE")
    assert not permitted(stranger, "read", scope)
    assert permitted(HANDLER, "reply", scope)

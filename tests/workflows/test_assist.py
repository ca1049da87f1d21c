"""主办/协办 on the time-skipping server: the lead unit asks for an assisting unit, a supervisor
approves, the assisting unit's own staff sign for and finish its part on the linkage workflow
(kind `assist`), a late part is escalated like a linkage agency's, and the lead unit replies
only once every part is done. The record, the rollups and the event-log replay count it alike."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.client import WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError
from temporalio.testing import WorkflowEnvironment

from domain.assist import AssistDecisionInput, AssistRequestInput
from domain.case import AcceptInput, Action, ContactInput, Grade, RateInput, ReplyInput
from domain.linkage import AgencyDoneInput, AgencyInput, LinkageAction, LinkageKind, LinkageView
from domain.permissions import Principal, Role
from tests.conftest import eventually
from tests.workflows.conftest import act, counts_by_unit_three_ways, events_of, row_of, signed
from workflows.case import CaseWorkflow
from workflows.linkage import LinkageWorkflow, linkage_id
from workflows.refusal import FORBIDDEN

LEAD = Principal(subject="wang", role=Role.unit_handler, unit="GT-C01-G01")
URBAN = Principal(subject="zhou", role=Role.unit_handler, unit="SD-URBAN")
COMMITTEE = Principal(subject="li", role=Role.unit_handler, unit="CO-C01")
SUPERVISOR = Principal(subject="chen", role=Role.supervisor)


async def test_the_lead_unit_replies_once_its_assisting_units_have_done_their_parts(
    start: Any, sessions: async_sessionmaker[AsyncSession], time_skipping: WorkflowEnvironment
) -> None:
    case = await start()
    await act(case, Action.accept, AcceptInput(), LEAD)
    await act(case, Action.contact, ContactInput(note="已联系王女士"), LEAD)
    ask = AssistRequestInput(units=["SD-URBAN", "CO-C01"], reason="垃圾在城管和社区交界处")
    view = await act(case, Action.request_assist, ask, LEAD)
    assert view.assist is not None and "approve_assist" in view.allowed_actions
    view = await act(case, Action.approve_assist, AssistDecisionInput(note="同意"), SUPERVISOR)
    assert view.linkage is not None and view.linkage.kind is LinkageKind.assist
    assert "reply" not in view.allowed_actions

    linkage = time_skipping.client.get_workflow_handle(linkage_id(case.id))

    async def on_part(action: LinkageAction, input: Any, by: Principal) -> LinkageView:
        return await linkage.execute_update(
            action.value, signed(input, by), result_type=LinkageView
        )

    # Each unit acts for its own part only.
    with pytest.raises(WorkflowUpdateFailedError) as other:
        await on_part(LinkageAction.report, AgencyInput(agency="CO-C01"), URBAN)
    assert isinstance(other.value.cause, ApplicationError) and other.value.cause.type == FORBIDDEN
    await on_part(LinkageAction.report, AgencyInput(agency="SD-URBAN", note="已到场"), URBAN)
    await time_skipping.sleep(timedelta(hours=3))  # the committee misses its report limit
    late = await linkage.query(LinkageWorkflow.state)
    assert [(a.unit, a.late) for a in late.agencies] == [("SD-URBAN", False), ("CO-C01", True)]
    await on_part(LinkageAction.report, AgencyInput(agency="CO-C01"), COMMITTEE)
    await on_part(
        LinkageAction.agency_done, AgencyDoneInput(agency="SD-URBAN", note="已清运"), URBAN
    )
    assert "reply" not in (await case.query(CaseWorkflow.state)).allowed_actions
    await on_part(
        LinkageAction.agency_done, AgencyDoneInput(agency="CO-C01", note="已劝导"), COMMITTEE
    )

    async def reply_allowed() -> bool:
        return "reply" in (await case.query(CaseWorkflow.state)).allowed_actions

    assert await eventually(reply_allowed)
    await act(case, Action.reply, ReplyInput(result="城管清运, 社区劝导, 已解决"), LEAD)
    closed = await act(case, Action.rate, RateInput(grade=Grade.satisfied, solved=True))
    assert closed.outcome is not None and closed.assists == 1

    types = await events_of(sessions, case.id)
    assert types[types.index("request_assist") :][:3] == [
        "request_assist",
        "approve_assist",
        "linkage_opened",
    ]
    assert {"agency_reported", "agency_late", "agency_done", "linkage_closed"} <= set(types)
    row = await row_of(sessions, case.id)
    assert row.assists == 1

    counted = await counts_by_unit_three_ways(sessions, row.received_at)
    assert counted[0] == counted[1] == counted[2]
    assert counted[0][("GT-C01-G01",)].assisted >= 1

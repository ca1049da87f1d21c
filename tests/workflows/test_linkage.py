"""Multi-agency linkage (吹哨报到) on the time-skipping server: a big case links the agencies of
its category by itself, each reports and finishes on its own clock, a late one is escalated to
the governance centre, and the lead unit replies only when all are done."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select
from temporalio.client import WorkflowExecutionStatus, WorkflowHandle, WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError
from temporalio.testing import WorkflowEnvironment

from db.models import Notification
from domain.case import AcceptInput, Action, ContactInput, Grade, RateInput, RejectInput, ReplyInput
from domain.common import ActionInput
from domain.linkage import (
    AddAgencyInput,
    AgencyDoneInput,
    AgencyInput,
    LinkageAction,
    LinkageView,
    OpenLinkageInput,
    ReleaseAgencyInput,
)
from domain.permissions import Principal, Role
from tests.conftest import eventually
from tests.workflows.conftest import act, events_of, row_of, signed
from workflows.case import CaseWorkflow
from workflows.linkage import LinkageWorkflow, linkage_id
from workflows.refusal import FORBIDDEN

AGENCIES = ["DA-POLICE", "DA-JUSTICE", "SD-CIVIL"]  # petition.collective's linkage agencies


def linkage_of(env: WorkflowEnvironment, case: WorkflowHandle[Any, Any]) -> Any:
    return env.client.get_workflow_handle_for(LinkageWorkflow.run, linkage_id(case.id))


async def on_linkage(
    linkage: WorkflowHandle[Any, Any], action: LinkageAction, input: ActionInput
) -> LinkageView:
    """Send `action` to the linkage as the Update of that name (as the admin)."""
    return await linkage.execute_update(action.value, signed(input), result_type=LinkageView)


async def test_a_major_case_links_three_agencies_one_late_then_reply_and_closure(
    start: Any, sessions: Any, time_skipping: WorkflowEnvironment
) -> None:
    case = await start(category="petition.collective", title="小区多户集体反映")
    state = await case.query(CaseWorkflow.state)
    assert state.unit == "DA-PETITION" and state.linkage is not None
    linkage = linkage_of(time_skipping, case)

    async def case_linked() -> bool:
        view = (await case.query(CaseWorkflow.state)).linkage
        return view is not None and len(view.agencies) == 3

    assert await eventually(case_linked)
    await act(case, Action.accept, AcceptInput())
    await act(case, Action.contact, ContactInput(note="约谈居民代表"))
    for agency in AGENCIES[:2]:  # two report on time
        await on_linkage(linkage, LinkageAction.report, AgencyInput(agency=agency))
    await time_skipping.sleep(timedelta(hours=3))  # the third misses its 2 h report limit
    late = await linkage.query(LinkageWorkflow.state)
    assert [a.late for a in late.agencies] == [False, False, True]

    assert "reply" not in (await case.query(CaseWorkflow.state)).allowed_actions
    await on_linkage(linkage, LinkageAction.report, AgencyInput(agency="SD-CIVIL"))
    for agency in AGENCIES:
        await on_linkage(
            linkage,
            LinkageAction.agency_done,
            AgencyDoneInput(agency=agency, note=f"{agency} 已办结"),
        )
    assert (await linkage.result()).status.value == "completed"

    async def reply_allowed() -> bool:
        return "reply" in (await case.query(CaseWorkflow.state)).allowed_actions

    assert await eventually(reply_allowed)
    await act(case, Action.reply, ReplyInput(result="多部门联合处置完毕"))
    closed = await act(case, Action.rate, RateInput(grade=Grade.satisfied))
    assert closed.status.value == "closed" and closed.linkage.status.value == "completed"

    events = await events_of(sessions, case.id)
    assert events[events.index("linkage_opened") :].count("agency_reported") == 3
    assert events.count("agency_done") == 3 and "agency_late" in events
    assert events.index("agency_reminded") < events.index("agency_late")  # reminded first
    assert events.index("linkage_closed") < events.index("reply")
    row = await row_of(sessions, case.id)
    assert row.linkage == "completed"
    async with sessions() as session:
        sent = await session.execute(
            select(Notification.recipient, Notification.kind).where(Notification.case_id == case.id)
        )
        notices = set(sent.all())
    assert {(a, "linkage") for a in AGENCIES} <= notices  # the whistle
    assert ("SD-CIVIL", "reminder") in notices  # at 80 % of its report limit
    assert ("SD-CENTER", "linkage_late") in notices  # the late agency
    assert ("DA-PETITION", "linkage_done") in notices  # the lead unit may reply


async def test_the_coordinator_adds_and_releases_agencies(
    start: Any, sessions: Any, time_skipping: WorkflowEnvironment
) -> None:
    case = await start()  # a small matter, linked by hand
    await act(
        case,
        Action.open_linkage,
        OpenLinkageInput(reason="反复出现, 需多方协同", agencies=["DA-URBAN"]),
    )
    linkage = linkage_of(time_skipping, case)
    await on_linkage(linkage, LinkageAction.add_agency, AddAgencyInput(agency="PC-01"))
    # Straight to the workflow, past the API: an agency reports for its own part only.
    property_company = Principal(subject="sun", role=Role.agency, unit="PC-01")
    with pytest.raises(WorkflowUpdateFailedError) as refused:
        await linkage.execute_update(
            LinkageAction.report.value,
            signed(AgencyInput(agency="DA-URBAN"), property_company),
            result_type=LinkageView,
        )
    assert isinstance(refused.value.cause, ApplicationError)
    assert refused.value.cause.type == FORBIDDEN
    await on_linkage(
        linkage,
        LinkageAction.release_agency,
        ReleaseAgencyInput(agency="DA-URBAN", reason="非其职责"),
    )
    await on_linkage(linkage, LinkageAction.report, AgencyInput(agency="PC-01"))
    await on_linkage(
        linkage, LinkageAction.agency_done, AgencyDoneInput(agency="PC-01", note="物业组织清理")
    )
    view = await linkage.result()
    assert [(a.unit, a.status.value) for a in view.agencies] == [
        ("DA-URBAN", "released"),
        ("PC-01", "done"),
    ]

    async def recorded() -> bool:
        return "linkage_closed" in await events_of(sessions, case.id)

    assert await eventually(recorded)
    events = await events_of(sessions, case.id)
    assert [e for e in events if e in ("agency_added", "agency_released")] == [
        "agency_added",
        "agency_released",
    ]


async def test_closing_the_case_ends_its_linkage(
    start: Any, sessions: Any, time_skipping: WorkflowEnvironment
) -> None:
    case = await start(category="petition.collective")
    linkage = linkage_of(time_skipping, case)
    closed = await act(case, Action.reject, RejectInput(reason="已由法院受理, 不属政府职责"))
    assert closed.linkage.status.value == "cancelled"

    async def cancelled() -> bool:
        status = (await linkage.describe()).status
        return status == WorkflowExecutionStatus.CANCELED

    assert await eventually(cancelled)
    assert "linkage_cancelled" in await events_of(sessions, case.id)

"""受理, the intake service shared by /v1/cases and Open311: check the references, record the
intake key and the case row (with the reporter and description, which never enter Temporal),
start the case's workflow, wait briefly for its routing."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi import status
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.client import (
    Client,
    WithStartWorkflowOperation,
    WorkflowHandle,
    WorkflowUpdateRPCTimeoutOrCancelledError,
)
from temporalio.common import (
    SearchAttributePair,
    TypedSearchAttributes,
    WorkflowIDConflictPolicy,
    WorkflowIDReusePolicy,
)
from temporalio.service import RPCError

from api.errors import InvalidReference, MissingContact, ReferenceTaken, UnknownCase
from api.schemas import CaseCreate, CaseOut
from api.scope import visible_case
from api.views import case_out
from core.config import Settings
from core.temporal import rpc_timeout
from db import cases, reference
from domain.calendar import SUBDISTRICT_TZ
from domain.case import CaseIntake, CaseReceived, CaseStatus, CaseView, missing_contact
from domain.permissions import CaseScope, Principal
from domain.state import CaseState
from domain.view import view
from workflows import search_attributes as sa
from workflows.case import CaseWorkflow

# How long intake waits for routing before answering 202 (the case goes on without the caller).
ROUTING_WAIT_SECONDS = 10.0


@dataclass(frozen=True)
class Filed:
    """The outcome of one intake call."""

    case: CaseOut
    status: int  # 201 new and routed, 202 new and still routing, 200 filed before
    scope: CaseScope

    @property
    def created(self) -> bool:
        """This call made the case (so it may hand out the resident's token for it)."""
        return self.status != status.HTTP_200_OK


async def file_case(
    sessions: async_sessionmaker[AsyncSession],
    temporal: Client,
    settings: Settings,
    body: CaseCreate,
    principal: Principal,
) -> Filed:
    """File the case `principal` sends. A channel + external_ref filed before answers the
    existing case, if the principal may see it; otherwise ReferenceTaken (ticket numbers are
    guessable, so the answer says nothing of the case)."""
    if missing := missing_contact(body.reporter, settings.contact_rule):
        raise MissingContact(missing, {"rule": settings.contact_rule.value})
    given, body = body.location, body.model_copy(update={"location": body.location.in_wgs84()})
    # The intake key and the case row commit before the workflow starts, so a retry after any
    # failure below finds the same case: never a second case, never a lost one, never a 202
    # for a case that is not there.
    async with sessions.begin() as session:
        if unknown := await reference.unknown_reference(session, body.category, body.location):
            raise InvalidReference(*unknown)
        number = await cases.allocate_number(session)
        case_id = f"{settings.case_prefix}-{datetime.now(SUBDISTRICT_TZ).year}-{number:06d}"
        existing = None
        if body.external_ref is not None:
            key = await cases.claim_intake(
                session, body.channel.value, body.external_ref, case_id, number
            )
            if key.case_id != case_id:
                existing = await cases.get(session, key.case_id)
                case_id, number = key.case_id, key.number
        if existing is None:
            intake = CaseIntake(
                case_id=case_id,
                number=number,
                possible_duplicate_of=await _possible_duplicate(session, settings, body),
                **body.model_dump(mode="json", exclude={"description", "reporter"}),
            )
            received = CaseReceived(
                description=body.description,
                reporter=body.reporter,
                at=datetime.now(UTC),
                given=given,
            )
            await cases.open_case(session, intake, received)

    if existing is not None:
        try:
            seen = await visible_case(sessions, temporal, principal, existing.id)
        except UnknownCase:
            raise ReferenceTaken(
                "this channel and external_ref are taken",
                {"channel": body.channel.value, "external_ref": body.external_ref},
            ) from None
        if existing.last_seq == 0:  # filed, but maybe never started: start it now (idempotent)
            await _start(temporal, settings, cases.intake_of(existing))
        return Filed(case_out(existing), status.HTTP_200_OK, seen.scope)

    try:
        # Update-with-Start: the start and the routed answer in one call, the Update delivered
        # with the case's first workflow task (no task of its own in the history).
        operation = WithStartWorkflowOperation(
            CaseWorkflow.run, intake, **_start_options(settings, intake)
        )
        view = await asyncio.wait_for(
            temporal.execute_update_with_start_workflow(
                CaseWorkflow.routed,
                start_workflow_operation=operation,
                rpc_timeout=rpc_timeout(settings),
            ),
            timeout=ROUTING_WAIT_SECONDS,
        )
    except (TimeoutError, WorkflowUpdateRPCTimeoutOrCancelledError):
        # No worker picked it up in time. The call may have been cut off before the server
        # started the case, so start it (or find it started): it is routed when a worker comes.
        _drop_start_failure(operation)
        await _start(temporal, settings, intake)
        view = _received_view(intake, received)
        return Filed(CaseOut(**view.model_dump()), status.HTTP_202_ACCEPTED, _new_scope(view))
    except RPCError:
        _drop_start_failure(operation)  # the error is the answer (503 for an outage)
        raise
    out = CaseOut(
        **view.model_dump(exclude={"description"}),
        description=body.description,
        reporter=body.reporter,
    )
    return Filed(out, status.HTTP_201_CREATED, _new_scope(view))


def _drop_start_failure(operation: WithStartWorkflowOperation[Any, Any]) -> None:
    """A call cut off before the server answered the start leaves that failure in the
    operation, for a `workflow_handle()` nobody calls here (the case is started again below):
    take it, or asyncio logs "Future exception was never retrieved" with a traceback each time
    (seen under load). The SDK has no public way to look without waiting."""
    started = operation._workflow_handle
    if started.done() and not started.cancelled():
        started.exception()


async def _start(
    temporal: Client, settings: Settings, intake: CaseIntake
) -> WorkflowHandle[Any, Any]:
    """Start the case's workflow; starting it again finds the running one."""
    return await temporal.start_workflow(
        CaseWorkflow.run,
        intake,
        **_start_options(settings, intake),
        rpc_timeout=rpc_timeout(settings),
    )


def _start_options(settings: Settings, intake: CaseIntake) -> dict[str, Any]:
    """How a case's workflow starts, by either call: its id is the case id, and starting it
    again finds the running one."""
    return {
        "id": intake.case_id,
        "task_queue": settings.task_queue,
        "id_conflict_policy": WorkflowIDConflictPolicy.USE_EXISTING,
        "id_reuse_policy": WorkflowIDReusePolicy.REJECT_DUPLICATE,
        "search_attributes": TypedSearchAttributes(
            [
                SearchAttributePair(sa.CASE_STATUS, CaseStatus.received.value),
                SearchAttributePair(sa.CASE_CATEGORY, intake.category),
                SearchAttributePair(sa.CASE_CHANNEL, intake.channel.value),
            ]
        ),
        "static_summary": f"{intake.case_id} · {intake.category} · {intake.location.address}",
        "static_details": f"**{intake.title}**\n\nchannel: {intake.channel.value}",
    }


def _new_scope(case: CaseView) -> CaseScope:
    """The scope of a case this call made (its committee is judged only for unit handlers,
    who do not file)."""
    agencies = tuple(a.unit for a in case.linkage.agencies) if case.linkage else ()
    return CaseScope(
        case_id=case.id, unit=case.unit, grid=case.grid, community=case.community, agencies=agencies
    )


async def _possible_duplicate(
    session: AsyncSession, settings: Settings, body: CaseCreate
) -> str | None:
    location = body.location
    if location.lat is None or location.lon is None:
        return None
    return await cases.nearby_open(
        session,
        category=body.category,
        lat=location.lat,
        lon=location.lon,
        since=datetime.now(UTC) - timedelta(days=settings.duplicate_window_days),
        radius_m=settings.duplicate_radius_m,
    )


def _received_view(intake: CaseIntake, received: CaseReceived) -> CaseView:
    """The case as intake recorded it, before any routing: the model's view of a received case."""
    state = CaseState(intake=intake, received_at=received.at)
    return view(state, []).model_copy(update={"description": received.description})

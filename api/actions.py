"""The action adapter: one human action becomes one Temporal Update on the case's workflow (or
its linkage's), and the Update's outcome becomes HTTP. No database transaction is open while
it waits on Temporal."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, TypeVar

from fastapi import Depends, Header
from pydantic import BaseModel
from temporalio.client import WorkflowUpdateFailedError, WorkflowUpdateRPCTimeoutOrCancelledError
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError, RPCStatusCode

from api.auth import CurrentPrincipal, Forbidden
from api.deps import SessionsDep, SettingsDep, TemporalDep
from api.errors import GridcaseError, InvalidReference, NotAllowedNow, Unavailable
from api.schemas import CaseOut
from api.scope import SeenCase, visible_case
from api.views import shown
from core.temporal import rpc_timeout
from db import cases
from db.models import Case
from domain import allowed, common
from domain.allowed import check
from domain.appeal import AppealInput, appeal_id
from domain.case import Action, CaseStatus, CaseView
from domain.common import ActionInput, Refused
from domain.common import Forbidden as ModelForbidden
from domain.linkage import LinkageAction, LinkageView
from domain.permissions import may, permitted
from domain.state import replay
from workflows.appeal import AppealWorkflow
from workflows.case import CaseWorkflow
from workflows.refusal import FORBIDDEN, INVALID_REFERENCE, NOT_ALLOWED_NOW

ActionInputT = TypeVar("ActionInputT", bound=BaseModel)
ResultT = TypeVar("ResultT")
RowT = TypeVar("RowT")


class CaseActions:
    """Sends one action to a case's workflow as an Update and maps the outcome to HTTP.

    An `Idempotency-Key` header makes the action safe to retry: it becomes the Update id, and
    Temporal runs an Update id once per case, so a retry after a 503 attaches to the first try."""

    def __init__(
        self,
        sessions: SessionsDep,
        temporal: TemporalDep,
        settings: SettingsDep,
        principal: CurrentPrincipal,
        idempotency_key: Annotated[
            str | None,
            Header(
                min_length=1,
                max_length=100,
                description="Any unique string; repeating it repeats nothing",
            ),
        ] = None,
    ) -> None:
        self.sessions, self.temporal, self.settings = sessions, temporal, settings
        self.principal, self.idempotency_key = principal, idempotency_key

    async def __call__(
        self, case_id: str, action: Action, body: ActionInput, workflow_id: str | None = None
    ) -> CaseOut:
        """An action on the case itself (the Update of the action's name, sent to the case's
        workflow or to the one that holds its appeal): the new state of the case, with the
        description from its record (it never passes through Temporal)."""
        target = workflow_id or case_id
        view, seen = await self._send(case_id, target, action.value, body, CaseView)
        out = CaseOut(**view.model_dump(exclude={"description"}), description=seen.row.description)
        return shown(out, self.principal, seen.scope)

    async def appeal_workflow(self, case_id: str, body: AppealInput) -> str | None:
        """Where an appeal goes: None for an open case (its own workflow takes it); on a closed
        case, a workflow of its own, started here from the state the record tells (the model
        checks the appeal first, so a refused one starts nothing)."""
        self.permit(Action.appeal.value)
        seen = await visible_case(self.sessions, self.temporal, self.principal, case_id)
        if seen.row.status != CaseStatus.closed:
            return None
        async with self.sessions() as session:
            state = replay(await cases.events(session, case_id))
        signed = body.model_copy(update={"principal": self.principal})
        try:
            check(state, Action.appeal, signed, datetime.now(UTC))
        except Refused as refused:
            error = Forbidden if isinstance(refused, ModelForbidden) else NotAllowedNow
            raise error(refused.message, refused.details) from None
        workflow_id = appeal_id(case_id, state.appeals + 1)
        await self.temporal.start_workflow(
            AppealWorkflow.run,
            state,
            id=workflow_id,
            task_queue=self.settings.task_queue,
            # Two appeals at once: the second meets the first's workflow and its refusal.
            id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
            static_summary=f"appeal {body.ground} on {case_id}",
            rpc_timeout=rpc_timeout(self.settings),
        )
        return workflow_id

    async def lookup(self, entity: type[RowT], key: str) -> RowT | None:
        """A row an action names (a unit, a master case), in its own short transaction."""
        async with self.sessions() as session:
            return await session.get(entity, key)

    def permit(self, action: str) -> None:
        """Forbidden unless the caller's role may take `action` at all: checked before anything
        about the case (or a case it names) is looked up."""
        if not may(self.principal, action):
            raise Forbidden(
                f"a {self.principal.role.value} may not {action}",
                {"role": self.principal.role.value, "action": action},
            )

    async def send(
        self, case_id: str, workflow_id: str, action: LinkageAction, body: ActionInput
    ) -> LinkageView:
        """An agency's or the coordinator's action on the case's linkage: its new state."""
        result, _ = await self._send(case_id, workflow_id, action.value, body, LinkageView)
        return result

    async def _send(
        self,
        case_id: str,
        workflow_id: str,
        action: str,
        body: ActionInput,
        result_type: type[ResultT],
    ) -> tuple[ResultT, SeenCase]:
        """Send the Update named `action`, with the 403/409/503 mapping."""
        self.permit(action)
        seen = await visible_case(self.sessions, self.temporal, self.principal, case_id)
        if not permitted(self.principal, action, seen.scope):
            raise Forbidden(
                f"a {self.principal.role.value} may not {action} this case",
                {"role": self.principal.role.value, "action": action},
            )
        body = body.model_copy(update={"principal": self.principal})
        if action == Action.reopen and seen.row.status == CaseStatus.closed:
            await self._next_run(case_id, body)
        handle = self.temporal.get_workflow_handle(workflow_id)
        update_id = (
            f"{workflow_id}:{action}:{self.idempotency_key}" if self.idempotency_key else None
        )
        try:
            result = await handle.execute_update(
                action,
                body,
                id=update_id,
                rpc_timeout=rpc_timeout(self.settings),
                result_type=result_type,
            )
        except WorkflowUpdateFailedError as failed:
            raise _refusal(failed) from None
        except WorkflowUpdateRPCTimeoutOrCancelledError:
            # No worker took the action in time (all down or overloaded). It may still run when
            # one comes back; a retry with the same Idempotency-Key then returns its result.
            raise Unavailable(
                "the case's worker did not answer in time; retry with the same Idempotency-Key",
                {"id": case_id},
            ) from None
        except RPCError as rpc:
            if rpc.status == RPCStatusCode.NOT_FOUND:  # the workflow has completed
                raise _closed(seen.row, workflow_id) from None
            if rpc.status == RPCStatusCode.FAILED_PRECONDITION:  # it is completing right now
                now = await self.lookup(Case, case_id)
                raise closing(now or seen.row, workflow_id) from None
            raise
        return result, seen

    async def _next_run(self, case_id: str, body: ActionInput) -> None:
        """A closed case's workflow has ended: reopening it starts the next run from its state
        as the record tells it (the model checks the reopen first, so a refused one starts
        nothing); that run waits for the `reopen` Update sent right after."""
        async with self.sessions() as session:
            state = replay(await cases.events(session, case_id))
        try:
            allowed.check(state, Action.reopen, body, datetime.now(UTC))
        except common.Forbidden as refused:
            raise Forbidden(refused.message, refused.details) from None
        except common.NotAllowedNow as refused:
            raise NotAllowedNow(refused.message, refused.details) from None
        await self.temporal.start_workflow(
            CaseWorkflow.run,
            state,
            id=case_id,
            task_queue=self.settings.task_queue,
            # The run that closed it may still be finishing: the reopen then goes to it.
            id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
            id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE,
            static_summary=f"{case_id} · {state.intake.category} · reopened",
            rpc_timeout=rpc_timeout(self.settings),
        )


Act = Annotated[CaseActions, Depends()]


def _refusal(failed: WorkflowUpdateFailedError) -> Exception:
    cause = failed.cause
    if isinstance(cause, ApplicationError) and cause.type == FORBIDDEN:
        return Forbidden(cause.message, cause.details[0] if cause.details else None)
    if isinstance(cause, ApplicationError) and cause.type == NOT_ALLOWED_NOW:
        return NotAllowedNow(cause.message, cause.details[0] if cause.details else None)
    if isinstance(cause, ApplicationError) and cause.type == INVALID_REFERENCE:
        return InvalidReference(cause.message, cause.details[0] if cause.details else None)
    return failed


def closing(case: Case, workflow_id: str) -> GridcaseError:
    """An action that met its workflow completing (Temporal's FAILED_PRECONDITION): 409 when
    the record already says it is over, else 503 (a retry then meets the finished state)."""
    if workflow_id == case.id:
        over = case.status == CaseStatus.closed
    elif workflow_id.startswith(f"{case.id}-appeal-"):
        over = (case.appeal or {}).get("status") != "pending"
    else:
        over = case.linkage != "open"
    if over:
        return _closed(case, workflow_id)
    return Unavailable(
        "the case is changing state; retry with the same Idempotency-Key", {"id": case.id}
    )


def _closed(case: Case, workflow_id: str) -> NotAllowedNow:
    what = "case" if workflow_id == case.id else workflow_id.removeprefix(f"{case.id}-")
    return NotAllowedNow(f"the {what} is closed", {"status": case.status, "allowed_actions": []})

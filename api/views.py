"""What the API shows of one case: the PostgreSQL record, the live state from the workflow's
query, and the reporter's phone masked for those who do not need it."""

from __future__ import annotations

from datetime import UTC, datetime

from temporalio.client import Client
from temporalio.service import RPCError

from api.schemas import CaseOut, LiveState, PendingDeadline
from core.config import Settings
from core.temporal import rpc_timeout
from db.models import Case
from domain.allowed import allowed_in, may_take
from domain.appeal import grounds
from domain.case import CaseStatus, CaseView, Deadline
from domain.permissions import (
    SEES_PHONE,
    CaseScope,
    Principal,
    Role,
    mask_email,
    mask_phone,
)
from workflows.case import CaseWorkflow


def case_out(case: Case) -> CaseOut:
    # The row keeps only the linkage's status; its agencies come from the live query.
    fields = {
        name: getattr(case, name)
        for name in CaseView.model_fields
        if hasattr(case, name) and name != "linkage"
    }
    deadlines = [Deadline.model_validate(d) for d in case.deadlines]
    return CaseOut(
        **{**fields, "deadlines": deadlines},
        # The workflow's own rule over the record; a live view replaces it (see `get_case`).
        allowed_actions=allowed_in(
            CaseStatus(case.status),
            case.contacted_at is not None,
            suspended=case.suspended,
            in_review=case.review == "pending",
            linkage_open=case.linkage == "open",
            grid_event=case.channel == "grid_patrol",
            verification_pending=case.verification == "pending",
            appealable=bool(
                case.unit and grounds(case.grade, case.deadlines, list(case.appealed or []))
            ),
            appeal_pending=(case.appeal or {}).get("status") == "pending",
            disputed=case.dispute == "pending",
            bound=case.bound_unit is not None and case.bound_unit == case.unit,
            reopenable=case.reopen_until is not None and case.reopen_until > datetime.now(UTC),
        ),
        reporter={
            "name": case.reporter_name,
            "phone": case.reporter_phone,
            "email": case.reporter_email,
        }
        if case.reporter_name
        else None,
    )


def shown(case: CaseOut, principal: Principal, scope: CaseScope) -> CaseOut:
    """The case as `principal` sees it: of the actions the case allows now, those this caller
    may take; a resident's phone only for those who need it to do their job (and the resident)."""
    status = case.status
    case.allowed_actions = [
        a for a in case.allowed_actions if may_take(principal, a, scope, status, case.review)
    ]
    if case.live is not None:
        live = case.live.allowed_actions
        case.live.allowed_actions = [
            a for a in live if may_take(principal, a, scope, status, case.review)
        ]
    own = principal.role is Role.resident and principal.case_id == case.id
    if case.reporter is not None and not (principal.role in SEES_PHONE or own):
        phone, email = case.reporter.phone, case.reporter.email
        case.reporter = case.reporter.model_copy(
            update={
                "phone": mask_phone(phone) if phone else None,
                "email": mask_email(email) if email else None,
            }
        )
    return case


async def live_state(temporal: Client, case_id: str, settings: Settings) -> LiveState | None:
    """Live timers from the workflow query; None when the workflow is unreachable or gone."""
    try:
        view = await temporal.get_workflow_handle(case_id).query(
            CaseWorkflow.state, rpc_timeout=rpc_timeout(settings)
        )
    except RPCError:
        return None
    return LiveState(
        status=view.status,
        allowed_actions=view.allowed_actions,
        linkage=view.linkage,
        pending_deadlines=[
            PendingDeadline(kind=d.kind, due_at=d.due_at)
            for d in view.deadlines
            if d.met_at is None and not d.missed
        ],
    )

"""The human actions on a case (/v1/cases/{case_id}/...): one Update each, through the action
adapter (api/actions.py). Each route names its action and its body; nothing else."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from api.actions import Act
from api.auth import Forbidden
from api.errors import InvalidReference, NotAllowedNow
from api.schemas import CaseId, CaseOut
from db.models import Case, Unit
from domain.appeal import AppealInput, RuleOnAppealInput
from domain.assist import AssistDecisionInput, AssistRequestInput
from domain.case import (
    AcceptInput,
    Action,
    CaseStatus,
    ConfirmInput,
    ContactInput,
    DisputeInput,
    EscalateInput,
    ExtensionDecisionInput,
    ExtensionRequestInput,
    MergeInput,
    ProgressInput,
    RateInput,
    ReassignInput,
    RejectInput,
    ReopenInput,
    ReplyInput,
    ResolveOnSiteInput,
    ResumeInput,
    ReturnInput,
    ReviewCloseInput,
    RuleOnReturnInput,
    SuspendInput,
    UrgeInput,
    VerifyInput,
)
from domain.linkage import (
    PART_HOLDERS,
    AddAgencyInput,
    AgencyDoneInput,
    AgencyInput,
    LinkageAction,
    LinkageView,
    OpenLinkageInput,
    ReleaseAgencyInput,
)
from domain.permissions import Principal
from domain.split import SplitInput
from domain.visit import VisitInput
from domain.voice import AddInfoInput, ChaseInput
from workflows.linkage import linkage_id

router = APIRouter(prefix="/v1/cases", tags=["cases"])

_ERRORS: dict[int | str, dict[str, Any]] = {
    403: {"description": "The caller's role may not take this action"},
    404: {"description": "Unknown case"},
    409: {"description": "Not allowed in the case's current state; details list what is"},
    422: {"description": "Invalid body"},
    503: {"description": "Temporal or PostgreSQL unavailable; retry after Retry-After seconds"},
}


@router.post("/{case_id}/accept", response_model=CaseOut, responses=_ERRORS)
async def accept(case_id: CaseId, body: AcceptInput, act: Act) -> CaseOut:
    """签收: the unit signs for the case and starts handling it."""
    return await act(case_id, Action.accept, body)


@router.post("/{case_id}/return", response_model=CaseOut, responses=_ERRORS)
async def return_(case_id: CaseId, body: ReturnInput, act: Act) -> CaseOut:
    """退单: not ours — back to the dispatcher, with the reason."""
    return await act(case_id, Action.return_, body)


@router.post("/{case_id}/reassign", response_model=CaseOut, responses=_ERRORS)
async def reassign(case_id: CaseId, body: ReassignInput, act: Act) -> CaseOut:
    """The dispatcher sends the case to another unit; its clocks restart."""
    if await act.lookup(Unit, body.unit) is None:
        raise InvalidReference("unknown unit", {"field": "unit", "value": body.unit})
    return await act(case_id, Action.reassign, body)


@router.post("/{case_id}/dispute", response_model=CaseOut, responses=_ERRORS)
async def dispute(case_id: CaseId, body: DisputeInput, act: Act) -> CaseOut:
    """The dispatcher disputes a unit's return: the governance centre rules (`rule_on_return`)
    within the policy's limit, with a reminder before and the ladder after; nothing stops."""
    return await act(case_id, Action.dispute, body)


@router.post("/{case_id}/rule_on_return", response_model=CaseOut, responses=_ERRORS)
async def rule_on_return(case_id: CaseId, body: RuleOnReturnInput, act: Act) -> CaseOut:
    """裁定: the governance centre names the unit that must take the disputed case; it gets
    fresh clocks and may not return the case again."""
    act.permit("rule_on_return")  # before the unit is looked up
    if await act.lookup(Unit, body.unit) is None:
        raise InvalidReference("unknown unit", {"field": "unit", "value": body.unit})
    return await act(case_id, Action.rule_on_return, body)


@router.post("/{case_id}/reject", response_model=CaseOut, responses=_ERRORS)
async def reject(case_id: CaseId, body: RejectInput, act: Act) -> CaseOut:
    """不予受理: not a government matter; closed with the reason (and still counted)."""
    return await act(case_id, Action.reject, body)


@router.post("/{case_id}/contact", response_model=CaseOut, responses=_ERRORS)
async def contact(case_id: CaseId, body: ContactInput, act: Act) -> CaseOut:
    """联系诉求人: first contact with the resident."""
    return await act(case_id, Action.contact, body)


@router.post("/{case_id}/progress", response_model=CaseOut, responses=_ERRORS)
async def progress(case_id: CaseId, body: ProgressInput, act: Act) -> CaseOut:
    """A progress note while handling."""
    return await act(case_id, Action.progress, body)


@router.post("/{case_id}/reply", response_model=CaseOut, responses=_ERRORS)
async def reply(case_id: CaseId, body: ReplyInput, act: Act) -> CaseOut:
    """答复: the handling unit writes the result to the resident."""
    return await act(case_id, Action.reply, body)


@router.post("/{case_id}/rate", response_model=CaseOut, responses=_ERRORS)
async def rate(case_id: CaseId, body: RateInput, act: Act) -> CaseOut:
    """评价: the resident rates the reply; unsatisfied once means re-handling."""
    return await act(case_id, Action.rate, body)


@router.post("/{case_id}/urge", response_model=CaseOut, responses=_ERRORS)
async def urge(case_id: CaseId, body: UrgeInput, act: Act) -> CaseOut:
    """催办: a supervisor chases the unit (recorded, and sent to the unit)."""
    return await act(case_id, Action.urge, body)


@router.post("/{case_id}/escalate", response_model=CaseOut, responses=_ERRORS)
async def escalate(case_id: CaseId, body: EscalateInput, act: Act) -> CaseOut:
    """One step up the escalation ladder by hand, with the reason."""
    return await act(case_id, Action.escalate, body)


@router.post("/{case_id}/request_extension", response_model=CaseOut, responses=_ERRORS)
async def request_extension(case_id: CaseId, body: ExtensionRequestInput, act: Act) -> CaseOut:
    """延期: the unit asks, before the reply deadline, for a later one (within the policy)."""
    return await act(case_id, Action.request_extension, body)


@router.post("/{case_id}/approve_extension", response_model=CaseOut, responses=_ERRORS)
async def approve_extension(case_id: CaseId, body: ExtensionDecisionInput, act: Act) -> CaseOut:
    """The reply deadline moves; the original is kept for the on-time rate."""
    return await act(case_id, Action.approve_extension, body)


@router.post("/{case_id}/deny_extension", response_model=CaseOut, responses=_ERRORS)
async def deny_extension(case_id: CaseId, body: ExtensionDecisionInput, act: Act) -> CaseOut:
    return await act(case_id, Action.deny_extension, body)


@router.post("/{case_id}/request_assist", response_model=CaseOut, responses=_ERRORS)
async def request_assist(case_id: CaseId, body: AssistRequestInput, act: Act) -> CaseOut:
    """协办: the lead unit asks for assisting units (a dispatcher or supervisor decides)."""
    for n, unit in enumerate(body.units):
        if await act.lookup(Unit, unit) is None:
            raise InvalidReference("unknown unit", {"field": f"units[{n}]", "value": unit})
    return await act(case_id, Action.request_assist, body)


@router.post("/{case_id}/approve_assist", response_model=CaseOut, responses=_ERRORS)
async def approve_assist(case_id: CaseId, body: AssistDecisionInput, act: Act) -> CaseOut:
    """Each assisting unit gets its part with its own clocks (`linkage/report`, `agency_done`);
    the lead unit replies once every part is done."""
    return await act(case_id, Action.approve_assist, body)


@router.post("/{case_id}/deny_assist", response_model=CaseOut, responses=_ERRORS)
async def deny_assist(case_id: CaseId, body: AssistDecisionInput, act: Act) -> CaseOut:
    return await act(case_id, Action.deny_assist, body)


@router.post("/{case_id}/suspend", response_model=CaseOut, responses=_ERRORS)
async def suspend(case_id: CaseId, body: SuspendInput, act: Act) -> CaseOut:
    """挂起: every clock stops until `resume` (or the policy's longest suspension)."""
    return await act(case_id, Action.suspend, body)


@router.post("/{case_id}/resume", response_model=CaseOut, responses=_ERRORS)
async def resume(case_id: CaseId, body: ResumeInput, act: Act) -> CaseOut:
    """The clocks restart with the time they had left."""
    return await act(case_id, Action.resume, body)


@router.post("/{case_id}/review_close", response_model=CaseOut, responses=_ERRORS)
async def review_close(case_id: CaseId, body: ReviewCloseInput, act: Act) -> CaseOut:
    """A supervisor closes a twice-unsatisfied case with a verdict."""
    return await act(case_id, Action.review_close, body)


@router.post("/{case_id}/reopen", response_model=CaseOut, responses=_ERRORS)
async def reopen(case_id: CaseId, body: ReopenInput, act: Act) -> CaseOut:
    """重办: back to the same unit with a fresh reply deadline. A supervisor sends a
    twice-unsatisfied case back from review; the resident (its token, or a dispatcher for it)
    reopens a closed case within the policy's window (30 days by default), in a new run of
    its workflow."""
    return await act(case_id, Action.reopen, body)


@router.post("/{case_id}/merge", response_model=CaseOut, responses=_ERRORS)
async def merge(case_id: CaseId, body: MergeInput, act: Act) -> CaseOut:
    """The dispatcher folds a duplicate into its master case (`into`), which must be open."""
    act.permit("merge")  # before anything about `into` is looked up (or given away)
    master = await act.lookup(Case, body.into)
    if master is None:
        raise InvalidReference("unknown master case", {"field": "into", "value": body.into})
    if master.status == CaseStatus.closed:
        raise NotAllowedNow(
            "the master case is closed", {"into": body.into, "status": master.status}
        )
    return await act(case_id, Action.merge, body)


@router.post("/{case_id}/split", response_model=CaseOut, responses=_ERRORS)
async def split(case_id: CaseId, body: SplitInput, act: Act) -> CaseOut:
    """拆分: the dispatcher splits a request covering several matters into child cases
    (`<case id>-1`, `-2`, …), each routed by its own category and place; the case closes with
    the last of them, and its reply to the resident gathers theirs. A category or place the
    reference data does not know refuses the whole split (422) and files nothing."""
    return await act(case_id, Action.split_, body)


# ---- grid events: solved on the spot, or checked on site ----------------------------------------


@router.post("/{case_id}/resolve_on_site", response_model=CaseOut, responses=_ERRORS)
async def resolve_on_site(case_id: CaseId, body: ResolveOnSiteInput, act: Act) -> CaseOut:
    """小事不出网格: the grid worker solved its own event on the spot (photo as evidence)."""
    return await act(case_id, Action.resolve_on_site, body)


@router.post("/{case_id}/confirm", response_model=CaseOut, responses=_ERRORS)
async def confirm(case_id: CaseId, body: ConfirmInput, act: Act) -> CaseOut:
    """The community confirms an on-the-spot solution: closed as self-resolved."""
    return await act(case_id, Action.confirm, body)


@router.post("/{case_id}/verify", response_model=CaseOut, responses=_ERRORS)
async def verify(case_id: CaseId, body: VerifyInput, act: Act) -> CaseOut:
    """核查: the grid worker checks the unit's fix on site; not fixed sends it back."""
    return await act(case_id, Action.verify, body)


# ---- the resident: return visits (回访) and the resident's own voice ------------------------


@router.post("/{case_id}/visit", response_model=CaseOut, responses=_ERRORS)
async def visit(case_id: CaseId, body: VisitInput, act: Act) -> CaseOut:
    """回访: reached (grade and solved: the rating), or not reached (with a note). The policy's
    number of unreached attempts on different working days closes the case `unreachable`."""
    return await act(case_id, Action.visit, body)


@router.post("/{case_id}/add_info", response_model=CaseOut, responses=_ERRORS)
async def add_info(case_id: CaseId, body: AddInfoInput, act: Act) -> CaseOut:
    """The resident (its token) or a dispatcher adds a note or a photo URL: sent to the unit."""
    return await act(case_id, Action.add_info, body)


@router.post("/{case_id}/chase", response_model=CaseOut, responses=_ERRORS)
async def chase(case_id: CaseId, body: ChaseInput, act: Act) -> CaseOut:
    """催促: recorded, counted on the case and sent to the unit (the policy's number a day)."""
    return await act(case_id, Action.chase, body)


# ---- 申诉: the unit appeals, a supervisor rules -----------------------------------------------


@router.post("/{case_id}/appeal", response_model=CaseOut, responses=_ERRORS)
async def appeal(case_id: CaseId, body: AppealInput, act: Act) -> CaseOut:
    """申诉: the case's unit appeals an unsatisfied rating or a missed deadline (accept, contact,
    reply) within the policy's window, with a reason and evidence URLs. On an open case its
    workflow takes it; on a closed case an appeal workflow of its own (`<case id>-appeal-<n>`)."""
    return await act(case_id, Action.appeal, body, await act.appeal_workflow(case_id, body))


@router.post("/{case_id}/rule_on_appeal", response_model=CaseOut, responses=_ERRORS)
async def rule_on_appeal(case_id: CaseId, body: RuleOnAppealInput, act: Act) -> CaseOut:
    """A supervisor rules on the pending appeal: `upheld`, or `exempted` (核减: the case leaves
    the unit's score, with the reason; its raw figures stay)."""
    case = await act.lookup(Case, case_id)
    held_by = str(case.appeal["workflow_id"]) if case is not None and case.appeal else None
    return await act(case_id, Action.rule_on_appeal, body, held_by)


# ---- multi-agency linkage: opened on the case, acted on by the agencies --------------------------


@router.post("/{case_id}/open_linkage", response_model=CaseOut, responses=_ERRORS)
async def open_linkage(case_id: CaseId, body: OpenLinkageInput, act: Act) -> CaseOut:
    """吹哨: link agencies (default: the category's) around the case's unit, which leads."""
    return await act(case_id, Action.open_linkage, body)


@router.post("/{case_id}/linkage/report", response_model=LinkageView, responses=_ERRORS)
async def linkage_report(case_id: CaseId, body: AgencyInput, act: Act) -> LinkageView:
    """报到: the agency has arrived / responded; its clock for finishing starts."""
    _own_agency(act.principal, body.agency)
    return await act.send(case_id, linkage_id(case_id), LinkageAction.report, body)


@router.post("/{case_id}/linkage/agency_done", response_model=LinkageView, responses=_ERRORS)
async def linkage_agency_done(case_id: CaseId, body: AgencyDoneInput, act: Act) -> LinkageView:
    """The agency's part is done, with its notes."""
    _own_agency(act.principal, body.agency)
    return await act.send(case_id, linkage_id(case_id), LinkageAction.agency_done, body)


@router.post("/{case_id}/linkage/add_agency", response_model=LinkageView, responses=_ERRORS)
async def linkage_add_agency(case_id: CaseId, body: AddAgencyInput, act: Act) -> LinkageView:
    """The coordinator summons one more agency."""
    if await act.lookup(Unit, body.agency) is None:
        raise InvalidReference("unknown unit", {"field": "agency", "value": body.agency})
    return await act.send(case_id, linkage_id(case_id), LinkageAction.add_agency, body)


@router.post("/{case_id}/linkage/release_agency", response_model=LinkageView, responses=_ERRORS)
async def linkage_release_agency(
    case_id: CaseId, body: ReleaseAgencyInput, act: Act
) -> LinkageView:
    """The coordinator lets an agency go (with the reason)."""
    return await act.send(case_id, linkage_id(case_id), LinkageAction.release_agency, body)


def _own_agency(principal: Principal, agency: str) -> None:
    """An agency (or an assisting unit) reports and finishes its own part, not another's."""
    if principal.role in PART_HOLDERS and principal.unit != agency:
        raise Forbidden(
            "a unit acts for its own part only", {"agency": agency, "unit": principal.unit}
        )

"""The human actions on a case (/v1/cases/{case_id}/...): one route per action, registered from
the model's tables (`domain.allowed.INPUTS` for the case, `domain.linkage.INPUTS` for its
linkage), each with its body model, through the action adapter (api/actions.py). What a route
does before the Update (a unit or master case it names exists; which workflow holds an appeal)
is in `_BEFORE`."""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import APIRouter

from api.actions import Act, CaseActions
from api.auth import Forbidden
from api.errors import InvalidReference, NotAllowedNow
from api.schemas import CaseId, CaseOut
from db.models import Case, Unit
from domain import linkage
from domain.allowed import INPUTS
from domain.appeal import AppealInput, RuleOnAppealInput
from domain.assist import AssistRequestInput
from domain.case import Action, CaseStatus, MergeInput, ReassignInput, RuleOnReturnInput
from domain.common import ActionInput
from domain.linkage import (
    AddAgencyInput,
    AgencyDoneInput,
    AgencyInput,
    LinkageAction,
    LinkageView,
)
from workflows.linkage import linkage_id

router = APIRouter(prefix="/v1/cases", tags=["cases"])

_ERRORS: dict[int | str, dict[str, Any]] = {
    403: {"description": "The caller's role may not take this action"},
    404: {"description": "Unknown case"},
    409: {"description": "Not allowed in the case's current state; details list what is"},
    422: {"description": "Invalid body"},
    503: {"description": "Temporal or PostgreSQL unavailable; retry after Retry-After seconds"},
}

# What each action does, as the API's documentation says it.
DESCRIPTIONS: dict[Action | LinkageAction, str] = {
    Action.accept: "签收: the unit signs for the case and starts handling it.",
    Action.return_: "退单: not ours — back to the dispatcher, with the reason.",
    Action.reassign: "The dispatcher sends the case to another unit; its clocks restart.",
    Action.reject: "不予受理: not a government matter; closed with the reason (and still counted).",
    Action.contact: "联系诉求人: first contact with the resident.",
    Action.progress: "A progress note while handling.",
    Action.reply: "答复: the handling unit writes the result to the resident.",
    Action.rate: "评价: the resident rates the reply; unsatisfied once means re-handling.",
    Action.urge: "催办: a supervisor chases the unit (recorded, and sent to the unit).",
    Action.escalate: "One step up the escalation ladder by hand, with the reason.",
    Action.request_extension: (
        "延期: the unit asks, before the reply deadline, for a later one (within the policy)."
    ),
    Action.approve_extension: (
        "The reply deadline moves; the original is kept for the on-time rate."
    ),
    Action.deny_extension: "The reply deadline stays where it was.",
    Action.request_assist: (
        "协办: the lead unit asks for assisting units (a dispatcher or supervisor decides)."
    ),
    Action.approve_assist: (
        "Each assisting unit gets its part with its own clocks (`linkage/report`, `agency_done`); "
        "the lead unit replies once every part is done."
    ),
    Action.deny_assist: "The lead unit handles the case alone.",
    Action.suspend: "挂起: every clock stops until `resume` (or the policy's longest suspension).",
    Action.resume: "The clocks restart with the time they had left.",
    Action.review_close: "A supervisor closes a twice-unsatisfied case with a verdict.",
    Action.reopen: (
        "重办: back to the same unit with a fresh reply deadline. A supervisor sends a "
        "twice-unsatisfied case back from review; the resident (its token, or a dispatcher for "
        "it) reopens a closed case within the policy's window (30 days by default), in a new run "
        "of its workflow."
    ),
    Action.dispute: (
        "The dispatcher disputes a unit's return: the governance centre rules (`rule_on_return`) "
        "within the policy's limit, with a reminder before and the ladder after; nothing stops."
    ),
    Action.rule_on_return: (
        "裁定: the governance centre names the unit that must take the disputed case; it gets "
        "fresh clocks and may not return the case again."
    ),
    Action.merge: (
        "The dispatcher folds a duplicate into its master case (`into`), which must be open."
    ),
    Action.resolve_on_site: (
        "小事不出网格: the grid worker solved its own event on the spot (photo as evidence)."
    ),
    Action.confirm: "The community confirms an on-the-spot solution: closed as self-resolved.",
    Action.verify: "核查: the grid worker checks the unit's fix on site; not fixed sends it back.",
    Action.visit: (
        "回访: reached (grade and solved: the rating), or not reached (with a note). The "
        "policy's number of unreached attempts on different working days closes the case "
        "`unreachable`."
    ),
    Action.add_info: (
        "The resident (its token) or a dispatcher adds a note or a photo URL: sent to the unit."
    ),
    Action.chase: (
        "催促: recorded, counted on the case and sent to the unit (the policy's number a day)."
    ),
    Action.split_: (
        "拆分: the dispatcher splits a request covering several matters into child cases "
        "(`<case id>-1`, `-2`, …), each routed by its own category and place; the case closes "
        "with the last of them, and its reply to the resident gathers theirs. A category or "
        "place the reference data does not know refuses the whole split (422) and files nothing."
    ),
    Action.appeal: (
        "申诉: the case's unit appeals an unsatisfied rating or a missed deadline (accept, "
        "contact, reply) within the policy's window, with a reason and evidence URLs. On an open "
        "case its workflow takes it; on a closed case an appeal workflow of its own "
        "(`<case id>-appeal-<n>`)."
    ),
    Action.rule_on_appeal: (
        "A supervisor rules on the pending appeal: `upheld`, or `exempted` (核减: the case leaves "
        "the unit's score, with the reason; its raw figures stay)."
    ),
    Action.open_linkage: (
        "吹哨: link agencies (default: the category's) around the case's unit, which leads."
    ),
    LinkageAction.report: (
        "报到: the agency has arrived / responded; its clock for finishing starts."
    ),
    LinkageAction.agency_done: "The agency's part is done, with its note.",
    LinkageAction.add_agency: "The coordinator summons one more agency.",
    LinkageAction.release_agency: "The coordinator lets an agency go (with the reason).",
}


# ---- what a route does before its Update: the references an action names are checked, and an
# appeal goes to the workflow that holds it (None: the case's own) ------------------------------


async def _unit_exists(act: CaseActions, unit: str, field: str) -> None:
    if await act.lookup(Unit, unit) is None:
        raise InvalidReference("unknown unit", {"field": field, "value": unit})


async def _reassign(act: CaseActions, case_id: str, body: ReassignInput) -> None:
    await _unit_exists(act, body.unit, "unit")


async def _rule_on_return(act: CaseActions, case_id: str, body: RuleOnReturnInput) -> None:
    act.permit("rule_on_return")  # before the unit is looked up
    await _unit_exists(act, body.unit, "unit")


async def _merge(act: CaseActions, case_id: str, body: MergeInput) -> None:
    act.permit("merge")  # before anything about `into` is looked up (or given away)
    master = await act.lookup(Case, body.into)
    if master is None:
        raise InvalidReference("unknown master case", {"field": "into", "value": body.into})
    if master.status == CaseStatus.closed:
        raise NotAllowedNow(
            "the master case is closed", {"into": body.into, "status": master.status}
        )


async def _add_agency(act: CaseActions, case_id: str, body: AddAgencyInput) -> None:
    await _unit_exists(act, body.agency, "agency")


async def _own_part(act: CaseActions, case_id: str, body: AgencyInput | AgencyDoneInput) -> None:
    """A unit reports and finishes its own part only: refused before anything is looked up."""
    action = LinkageAction.report if isinstance(body, AgencyInput) else LinkageAction.agency_done
    if not linkage.may_act_for(act.principal, action, body.agency):
        raise Forbidden(
            "a unit acts for its own part only", {"agency": body.agency, "unit": act.principal.unit}
        )


async def _request_assist(act: CaseActions, case_id: str, body: AssistRequestInput) -> None:
    for n, unit in enumerate(body.units):
        await _unit_exists(act, unit, f"units[{n}]")


async def _appeal(act: CaseActions, case_id: str, body: AppealInput) -> str | None:
    return await act.appeal_workflow(case_id, body)


async def _rule_on_appeal(act: CaseActions, case_id: str, body: RuleOnAppealInput) -> str | None:
    case = await act.lookup(Case, case_id)
    return str(case.appeal["workflow_id"]) if case is not None and case.appeal else None


_BEFORE: dict[Action | LinkageAction, Callable[[CaseActions, str, Any], Awaitable[str | None]]] = {
    Action.reassign: _reassign,
    Action.rule_on_return: _rule_on_return,
    Action.merge: _merge,
    Action.appeal: _appeal,
    Action.rule_on_appeal: _rule_on_appeal,
    Action.request_assist: _request_assist,
    LinkageAction.report: _own_part,
    LinkageAction.agency_done: _own_part,
    LinkageAction.add_agency: _add_agency,
}


# ---- one route per action ------------------------------------------------------------------------


def _add(action: Action | LinkageAction, body: type[ActionInput], path: str, name: str) -> None:
    before = _BEFORE.get(action)
    on_linkage = isinstance(action, LinkageAction)

    async def endpoint(case_id: str, body: ActionInput, act: CaseActions) -> Any:
        held_by = await before(act, case_id, body) if before is not None else None
        if isinstance(action, LinkageAction):
            return await act.send(case_id, linkage_id(case_id), action, body)
        return await act(case_id, action, body, held_by)

    # FastAPI reads the body's model and the dependencies from the signature: the action's own.
    endpoint.__signature__ = inspect.Signature(  # type: ignore[attr-defined]
        [
            inspect.Parameter("case_id", inspect.Parameter.KEYWORD_ONLY, annotation=CaseId),
            inspect.Parameter("body", inspect.Parameter.KEYWORD_ONLY, annotation=body),
            inspect.Parameter("act", inspect.Parameter.KEYWORD_ONLY, annotation=Act),
        ]
    )
    router.add_api_route(
        path,
        endpoint,
        methods=["POST"],
        name=name,
        response_model=LinkageView if on_linkage else CaseOut,
        responses=_ERRORS,
        description=DESCRIPTIONS[action],
    )


for _action, _body in INPUTS.items():
    _add(_action, _body, f"/{{case_id}}/{_action.value}", _action.value)
for _linkage_action, _linkage_body in linkage.INPUTS.items():
    path = f"/{{case_id}}/linkage/{_linkage_action.value}"
    _add(_linkage_action, _linkage_body, path, f"linkage_{_linkage_action.value}")

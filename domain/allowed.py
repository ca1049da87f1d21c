"""What may be done to a case now, and by whom: the allowed-actions table and the one check
that the workflow's validators, its Update handlers, the API and the console all use."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from domain.appeal import AppealInput, RuleOnAppealInput, state_grounds
from domain.appeal import refusal as appeal_refusal
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
from domain.common import ActionInput, Forbidden, NotAllowedNow
from domain.common import parse as parse_input
from domain.escalation import extension_refusal
from domain.linkage import OpenLinkageInput
from domain.permissions import CaseScope, Principal, may_reopen, permitted
from domain.sla import DeadlineKind
from domain.split import SplitInput
from domain.state import CaseState
from domain.visit import VisitInput
from domain.voice import AddInfoInput, ChaseInput, chases_on

# ---- what may be done now --------------------------------------------------------------------

# The resident is heard while the case is with a unit or the dispatcher (stopped clock or not).
RESIDENT_VOICE = (Action.add_info, Action.chase)
# What may be done in each state; narrowed by `allowed_actions`.
ALLOWED_ACTIONS: dict[CaseStatus, tuple[Action, ...]] = {
    CaseStatus.received: (),
    CaseStatus.dispatched: (
        Action.accept,
        Action.return_,
        Action.reassign,
        Action.reject,
        Action.urge,
        Action.escalate,
        Action.open_linkage,
        Action.resolve_on_site,
        Action.merge,
        Action.split_,
        *RESIDENT_VOICE,
    ),
    CaseStatus.returned: (
        Action.reassign,
        Action.dispute,
        Action.reject,
        Action.escalate,
        Action.merge,
        Action.split_,
        *RESIDENT_VOICE,
    ),
    CaseStatus.in_progress: (
        Action.contact,
        Action.progress,
        Action.reply,
        Action.urge,
        Action.escalate,
        Action.request_extension,
        Action.approve_extension,
        Action.deny_extension,
        Action.request_assist,
        Action.approve_assist,
        Action.deny_assist,
        Action.suspend,
        Action.open_linkage,
        Action.resolve_on_site,
        Action.merge,
        *RESIDENT_VOICE,
    ),
    CaseStatus.replied: (Action.rate, Action.visit),
    CaseStatus.verifying: (Action.verify,),
    CaseStatus.resolved_on_site: (Action.confirm,),
    CaseStatus.split_: (),  # its children are handled; it closes with the last of them
    CaseStatus.closed: (Action.reopen,),
}
# While the clock is stopped the unit may only note progress or resume.
SUSPENDED_ACTIONS = (Action.progress, Action.resume, *RESIDENT_VOICE)
# While a supervisor reviews a twice-unsatisfied case, only the supervisor acts.
REVIEW_ACTIONS = (Action.review_close, Action.reopen)
# While the governance centre rules on a disputed return, the case waits for its ruling.
DISPUTE_ACTIONS = (Action.rule_on_return, *RESIDENT_VOICE)

INPUTS: dict[Action, type[ActionInput]] = {
    Action.accept: AcceptInput,
    Action.return_: ReturnInput,
    Action.reassign: ReassignInput,
    Action.dispute: DisputeInput,
    Action.rule_on_return: RuleOnReturnInput,
    Action.reject: RejectInput,
    Action.contact: ContactInput,
    Action.progress: ProgressInput,
    Action.reply: ReplyInput,
    Action.rate: RateInput,
    Action.urge: UrgeInput,
    Action.escalate: EscalateInput,
    Action.request_extension: ExtensionRequestInput,
    Action.approve_extension: ExtensionDecisionInput,
    Action.deny_extension: ExtensionDecisionInput,
    Action.suspend: SuspendInput,
    Action.resume: ResumeInput,
    Action.review_close: ReviewCloseInput,
    Action.reopen: ReopenInput,
    Action.open_linkage: OpenLinkageInput,
    Action.resolve_on_site: ResolveOnSiteInput,
    Action.confirm: ConfirmInput,
    Action.verify: VerifyInput,
    Action.merge: MergeInput,
    Action.visit: VisitInput,
    Action.add_info: AddInfoInput,
    Action.chase: ChaseInput,
    Action.appeal: AppealInput,
    Action.rule_on_appeal: RuleOnAppealInput,
    Action.split_: SplitInput,
    Action.request_assist: AssistRequestInput,
    Action.approve_assist: AssistDecisionInput,
    Action.deny_assist: AssistDecisionInput,
}


def allowed_in(
    status: CaseStatus,
    contacted: bool,
    *,
    suspended: bool = False,
    extension_requested: bool = False,
    in_review: bool = False,
    linkage_open: bool = False,
    grid_event: bool = False,
    verification_pending: bool = False,
    disputed: bool = False,
    bound: bool = False,
    reopenable: bool = False,
    appealable: bool = False,
    appeal_pending: bool = False,
    assist_requested: bool = False,
) -> list[Action]:
    """What the loop allows (`_in_the_loop`) and, beside it on an open or a closed case, one
    appeal at a time: `appeal` while a ground is left, `rule_on_appeal` while one waits."""
    actions = _in_the_loop(
        status,
        contacted,
        suspended=suspended,
        extension_requested=extension_requested,
        in_review=in_review,
        linkage_open=linkage_open,
        grid_event=grid_event,
        verification_pending=verification_pending,
        assist_requested=assist_requested,
        disputed=disputed,
        bound=bound,
        reopenable=reopenable,
    )
    if appeal_pending:  # a closed case's appeal runs beside it: no reopen until it is ruled
        actions = [a for a in actions if a is not Action.reopen]
        actions.append(Action.rule_on_appeal)
    elif appealable and status is not CaseStatus.received:
        actions.append(Action.appeal)
    return actions


def _in_the_loop(
    status: CaseStatus,
    contacted: bool,
    *,
    suspended: bool,
    extension_requested: bool,
    in_review: bool,
    linkage_open: bool,
    grid_event: bool,
    verification_pending: bool,
    assist_requested: bool,
    disputed: bool,
    bound: bool,
    reopenable: bool,
) -> list[Action]:
    """The table, narrowed by the loop's order (contact the resident once, before replying), a
    stopped clock, a pending review or extension request, an open linkage. (The API reads it
    from a case's record when the live workflow does not answer.)"""
    if status is CaseStatus.closed:  # reopened by the resident, within the policy's window
        return [Action.reopen] if reopenable else []
    if suspended:
        return list(SUSPENDED_ACTIONS)
    if in_review:
        return list(REVIEW_ACTIONS)
    if disputed:
        return list(DISPUTE_ACTIONS)
    if verification_pending:  # rated in the app: only the verification call is left
        return [Action.visit]
    # While agencies (or assisting units) work on their parts the lead unit cannot reply, nor
    # bring in more.
    drop: set[Action] = (
        {Action.reply, Action.open_linkage, Action.request_assist, Action.approve_assist}
        if linkage_open
        else set()
    )
    if not grid_event or linkage_open:  # only a grid worker's own event is solved on the spot
        drop.add(Action.resolve_on_site)
    if bound:  # the governance centre ruled that this unit must take it
        drop.add(Action.return_)
    if status is CaseStatus.in_progress:
        drop.add(Action.contact if contacted else Action.reply)
        if extension_requested:
            drop.add(Action.request_extension)
        else:
            drop |= {Action.approve_extension, Action.deny_extension}
        if assist_requested:
            drop.add(Action.request_assist)
        else:
            drop |= {Action.approve_assist, Action.deny_assist}
    return [a for a in ALLOWED_ACTIONS[status] if a not in drop]


def allowed_actions(state: CaseState, principal: Principal | None = None) -> list[Action]:
    """What may be done to the case now; with a principal, what that caller may do."""
    actions = allowed_in(
        state.status,
        state.contacted_at is not None,
        suspended=state.suspended_at is not None,
        extension_requested=state.extension is not None,
        in_review=state.review == "pending",
        linkage_open=state.linkage_open,
        grid_event=state.grid_event,
        verification_pending=state.verification == "pending",
        disputed=state.dispute == "pending",
        bound=state.bound_unit is not None and state.bound_unit == state.unit,
        reopenable=state.reopen_until() is not None,
        appealable=bool(state_grounds(state)),
        appeal_pending=state.appeal_pending,
        assist_requested=state.assist is not None,
    )
    if principal is not None:
        actions = [a for a in actions if _permitted(principal, a, state)]
    return actions


def _permitted(principal: Principal, action: Action, state: CaseState) -> bool:
    return may_take(principal, action, scope(state), state.status, state.review)


def may_take(
    principal: Principal,
    action: Action,
    case: CaseScope,
    status: CaseStatus,
    review: str | None,
) -> bool:
    """The permission table, and who reopens which case: in review the supervisor, after
    closure the resident (elsewhere `reopen` is not allowed now, whoever asks)."""
    closed = status is CaseStatus.closed
    decided = action is Action.reopen and (closed or review == "pending")
    if decided and not may_reopen(principal, after_closure=closed):
        return False
    return permitted(principal, action.value, case)


def scope(state: CaseState) -> CaseScope:
    """What the permission rules need to know about the case."""
    routed = state.routed
    return CaseScope(
        case_id=state.intake.case_id,
        unit=state.unit,
        grid=routed.grid if routed else state.intake.location.grid,
        community=routed.community if routed else None,
        committee=routed.committee if routed else None,
        agencies=tuple(a.unit for a in state.linkage.agencies) if state.linkage else (),
    )


def parse(action: Action, payload: dict[str, Any]) -> ActionInput:
    """An Update's payload as the action's input model."""
    return parse_input(INPUTS[action], action.value, payload)


def check(state: CaseState, action: Action, input: ActionInput, now: datetime) -> None:
    """Raise unless this authenticated caller may take `action` on the case now."""
    principal = input.principal
    if principal is None:
        raise Forbidden(
            "an action needs an authenticated principal (act through the API)",
            {"action": action.value},
        )
    if not _permitted(principal, action, state):
        raise Forbidden(
            f"a {principal.role.value} may not {action.value} this case",
            {"role": principal.role.value, "action": action.value},
        )
    # An appeal outside the table is refused below, saying why (no ground left, one pending...).
    if action not in allowed_actions(state) and action is not Action.appeal:
        what = "suspended" if state.suspended_at is not None else state.status.value
        if action is Action.rule_on_appeal:
            _refuse(state, "no appeal on this case awaits a ruling")
        why = _reopen_refusal(state, now) if action is Action.reopen else None
        _refuse(state, why or f"cannot {action.value} a case that is {what}")
    refusal = _refusal(state, action, input, now)
    if refusal:
        _refuse(state, refusal)


def _refusal(state: CaseState, action: Action, input: ActionInput, now: datetime) -> str | None:
    routed = state.routed
    if action is Action.escalate and (
        routed is None or state.escalation_level >= len(routed.ladder)
    ):
        return "the case is already at the top of the ladder"
    if action is Action.suspend and routed and state.suspensions >= routed.policy.max_suspensions:
        return f"the policy allows {routed.policy.max_suspensions} suspension(s)"
    if (
        action is Action.chase
        and routed
        and (chases_on(state.chased, now) >= routed.policy.chases_per_day)
    ):
        return f"the policy takes {routed.policy.chases_per_day} chaser(s) a day"
    if isinstance(input, AppealInput):
        return appeal_refusal(state, input, now)
    if isinstance(input, AssistRequestInput) and state.unit in input.units:
        return "the lead unit cannot assist itself"
    if action is Action.reopen and state.status is CaseStatus.closed:
        return _reopen_refusal(state, now)
    if isinstance(input, MergeInput) and input.into == state.intake.case_id:
        return "a case cannot be merged into itself"
    if isinstance(input, ExtensionRequestInput):
        reply = state.deadlines.get(DeadlineKind.reply)
        if reply is None or reply.met_at is not None or routed is None:
            return "there is no reply deadline to extend"
        return extension_refusal(
            current_due=reply.due_at,
            requested_due=input.due_at,
            now=now,
            granted=state.extensions,
            max_extensions=routed.policy.max_extensions,
            max_extension=routed.policy.max_extension,
            calendar=routed.working_days,
        )
    return None


def _reopen_refusal(state: CaseState, now: datetime) -> str | None:
    """Why a closed case cannot be reopened now (None: it can, or it is not closed)."""
    if state.status is not CaseStatus.closed:
        return None
    until = state.reopen_until()
    if until is None:
        return "only a case a unit replied to can be reopened"
    if now > until:
        return f"the window to reopen closed at {until.isoformat()}"
    return None


def _refuse(state: CaseState, message: str) -> None:
    raise NotAllowedNow(
        message,
        {
            "status": state.status.value,
            "allowed_actions": [a.value for a in allowed_actions(state)],
        },
    )

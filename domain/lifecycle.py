"""The life of a case, written once: its state, what may be done to it, and what each action or
expired alarm does to it.

Everything that tells a case's story uses this module: the workflow (a thin shell that waits,
records and starts children), the timeline and KPI replay (`replay` folds the recorded events),
the history generator and any what-if. Two kinds of function:

- *decisions* (`start`, `route`, `act`, `linkage_changed`, `merged_in`, `child_closed`, and
  `ring` for an expired alarm in `domain.alarms`) take the state,
  the input and the time and return a `Step`: the new state, the events to record, the
  notifications, and what the workflow must start or stop;
- `evolve` is the one place an event changes the state. A decision only writes events (with
  every due time it computed in their data) and evolves the state through them, so folding the
  recorded events gives back exactly the state the workflow had.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from domain.allowed import check
from domain.appeal import AppealInput, RuleOnAppealInput, appeal_id
from domain.assist import AssistDecisionInput, AssistRequestInput
from domain.calendar import local
from domain.case import (
    AcceptInput,
    Action,
    CaseIntake,
    CaseStatus,
    ConfirmInput,
    ContactInput,
    DisputeInput,
    EscalateInput,
    EventType,
    ExtensionDecisionInput,
    ExtensionRequestInput,
    Grade,
    MergedCase,
    MergeInput,
    Outcome,
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
    Routed,
    RuleOnReturnInput,
    SuspendInput,
    UrgeInput,
    VerifyInput,
)
from domain.change import (
    SYSTEM,
    Change,
    Step,
    climb,
    close,
    dispatch,
    link,
    link_if_big,
    restart_clocks,
    supervisor,
)
from domain.common import ActionInput, reporter
from domain.linkage import (
    LinkageChange,
    LinkageKind,
    OpenLinkageInput,
)
from domain.permissions import Role
from domain.sla import DeadlineKind, due_at
from domain.split import ChildClosed, Children, SplitInput, children_of
from domain.state import CaseState
from domain.visit import VisitInput, sampled_for_verification, unreached_days
from domain.voice import AddInfoInput, ChaseInput

# ---- decisions ---------------------------------------------------------------------------------


def start(intake: CaseIntake, now: datetime) -> Step:
    """受理: the case is recorded as received."""
    change = Change(CaseState(intake=intake, received_at=now), now)
    change.record(
        EventType.received,
        SYSTEM,
        channel=intake.channel.value,
        photo_url=intake.photo_url,
        intake=intake.model_dump(mode="json", exclude={"history_limit"}),
    )
    return change.done()


def route(state: CaseState, routed: Routed, now: datetime) -> Step:
    """派单 by the rules; nobody in charge sends it back to the dispatcher. A big case links
    its agencies at once."""
    change = Change(state, now)
    if routed.unit is not None:
        dispatch(
            change, EventType.dispatched, SYSTEM, routed.unit, routed.rule, routed.reason, routed
        )
        link_if_big(change)
    else:
        change.record(
            EventType.route_failed,
            SYSTEM,
            reason=routed.reason,
            routed=routed.model_dump(mode="json"),
        )
    return change.done()


def act(state: CaseState, action: Action, input: ActionInput, now: datetime) -> Step:
    """A human action, checked (again: the state may have moved since the validator ran)."""
    check(state, action, input, now)
    assert input.principal is not None
    change = Change(state, now)
    _ACTIONS[action](change, input.principal.actor, input)
    return change.done()


def _accept(change: Change, actor: str, input: AcceptInput) -> None:
    change.record(Action.accept, actor, unit=change.state.unit, note=input.note)


def _return(change: Change, actor: str, input: ReturnInput) -> None:
    change.record(Action.return_, actor, unit=change.state.unit, reason=input.reason)


def _reassign(change: Change, actor: str, input: ReassignInput) -> None:
    dispatch(change, Action.reassign, actor, input.unit, None, input.reason)
    link_if_big(change)  # bounced too often


def _dispute(change: Change, actor: str, input: DisputeInput) -> None:
    """The dispatcher disputes the return: the governance centre rules, within its deadline.
    Nothing stops: the case's age keeps counting, and a late ruling climbs the ladder."""
    state = change.state
    change.record(
        Action.dispute,
        actor,
        unit=state.unit,
        reason=input.reason,
        due={DeadlineKind.ruling.value: change.due(DeadlineKind.ruling)},
    )
    change.notify(supervisor(state), "dispute", unit=state.unit or "")


def _rule_on_return(change: Change, actor: str, input: RuleOnReturnInput) -> None:
    """裁定: the unit named takes the case (fresh clocks, told as any dispatch) and may not
    return it again."""
    dispatch(change, Action.rule_on_return, actor, input.unit, None, input.reason)


def _reject(change: Change, actor: str, input: RejectInput) -> None:
    change.record(Action.reject, actor, reason=input.reason)
    close(change, Outcome.rejected)


def _contact(change: Change, actor: str, input: ContactInput) -> None:
    change.record(Action.contact, actor, note=input.note)


def _progress(change: Change, actor: str, input: ProgressInput) -> None:
    change.record(Action.progress, actor, note=input.note)


def _reply(change: Change, actor: str, input: ReplyInput) -> None:
    """谁办理谁答复: the resident's rating window opens; a grid event is checked on site (核查)."""
    state = change.state
    next_kind = DeadlineKind.verify if state.grid_event else DeadlineKind.rating
    # 回访: the hotline calls the resident back (a grid event is checked on site instead).
    visit = {} if state.grid_event else {"visit_due": _visit_due(change)}
    change.record(
        Action.reply,
        actor,
        unit=state.unit,
        result=input.result,
        due={next_kind.value: change.due(next_kind)},
        **visit,
    )
    if state.grid_event and state.routed is not None:
        change.notify(state.routed.grid_team, "verify")
    elif not state.grid_event:  # the rating SMS
        rating_due = state.deadlines[DeadlineKind.rating].due_at
        change.notify(reporter(state.intake.case_id), "rating", due_at=local(rating_due))


def _visit_due(change: Change) -> str:
    routed = change.state.routed
    assert routed is not None
    return due_at(change.now, routed.policy.visit_after, routed.working_days).isoformat()


def _rate(change: Change, actor: str, input: RateInput) -> None:
    state = change.state
    assert state.routed is not None and input.principal is not None
    # A sample of the residents' own (app) ratings that would close the case is verified by a
    # call first (the rating window stays open for it): chosen from the case id.
    verification = (
        input.principal.role is Role.resident
        and input.grade is not Grade.unsatisfied
        and sampled_for_verification(state.intake.case_id, state.routed.policy.verification_share)
    )
    change.record(
        Action.rate,
        actor,
        grade=input.grade.value,
        solved=input.solved,
        comment=input.comment,
        **({"verification": True} if verification else {}),
    )
    if not verification:
        _rated(change)


def _visit(change: Change, actor: str, input: VisitInput) -> None:
    """回访: reached, the resident's grade is the rating (or verifies the app's); not reached,
    the attempt counts once per working day, and the policy's number of them closes the case."""
    state = change.state
    assert state.routed is not None
    policy = state.routed.policy
    if not input.reached:
        days = unreached_days(state.unreached, change.now, state.routed.working_days)
        change.record(
            Action.visit,
            actor,
            reached=False,
            note=input.note,
            unreached=[d.isoformat() for d in days],
        )
        if len(days) >= policy.visit_attempts:
            # A verification that never reaches the resident leaves the app's rating standing.
            verifying = state.verification == "pending"
            close(change, Outcome.rated if verifying else Outcome.unreachable)
        return
    assert input.grade is not None
    if state.verification == "pending":
        change.record(
            Action.visit,
            actor,
            reached=True,
            grade=input.grade.value,
            solved=input.solved,
            app_grade=state.grade.value if state.grade else None,
            agrees=input.grade is state.grade,
        )
        close(change, Outcome.rated)
        return
    change.record(Action.visit, actor, reached=True, grade=input.grade.value, solved=input.solved)
    _rated(change)


def _rated(change: Change) -> None:
    """What a rating (the app's or a reached call's) does: closes, or sends it back."""
    state = change.state
    assert state.grade is not None
    if state.grade is Grade.unsatisfied and not state.rehandled:
        # 重办: once, by the same unit, with a fresh reply deadline.
        change.record(
            EventType.rehandling,
            SYSTEM,
            unit=state.unit,
            due={"reply": change.due(DeadlineKind.reply)},
        )
    elif state.grade is Grade.unsatisfied:
        # Unsatisfied after re-handling: a supervisor decides (the review queue).
        change.record(EventType.review_opened, SYSTEM, unit=state.unit)
        change.notify(supervisor(state), "review", reason="unsatisfied")
    else:
        close(change, Outcome.rated)


def _add_info(change: Change, actor: str, input: AddInfoInput) -> None:
    """The resident adds to the request: recorded, and sent to the unit that holds it."""
    photo = str(input.photo_url) if input.photo_url else None
    change.record(Action.add_info, actor, note=input.note, photo_url=photo)
    change.notify(change.state.unit, "add_info")


def _chase(change: Change, actor: str, input: ChaseInput) -> None:
    """催促: the resident chases; recorded, counted and sent to the unit."""
    change.record(Action.chase, actor, unit=change.state.unit, note=input.note)
    change.notify(change.state.unit, "chase")


def _appeal(change: Change, actor: str, input: AppealInput) -> None:
    """申诉: the unit disputes a rating or a missed deadline, with evidence; a supervisor rules
    within the policy's limit. On a closed case it runs in a workflow of its own."""
    state = change.state
    n = state.appeals + 1
    case_id = state.intake.case_id
    change.record(
        Action.appeal,
        actor,
        n=n,
        ground=input.ground,
        unit=state.unit,
        reason=input.reason,
        evidence=[str(url) for url in input.evidence],
        workflow_id=appeal_id(case_id, n) if state.status is CaseStatus.closed else case_id,
        due={DeadlineKind.appeal.value: change.due(DeadlineKind.appeal)},
    )
    change.notify(supervisor(state), "appeal", ground=input.ground)


def _rule_on_appeal(change: Change, actor: str, input: RuleOnAppealInput) -> None:
    """The ruling: upheld, or exempted (核减: the case leaves the unit's score; its raw figures
    stay as they were)."""
    appeal = change.state.appeal
    assert appeal is not None
    change.record(
        Action.rule_on_appeal,
        actor,
        n=appeal.n,
        ruling=input.ruling.value,
        reason=input.reason,
        unit=appeal.unit,
    )
    change.notify(appeal.unit, "appeal_ruled", ruling=input.ruling.value)


def _urge(change: Change, actor: str, input: UrgeInput) -> None:
    """催办: a supervisor chases the unit."""
    change.record(Action.urge, actor, unit=change.state.unit, note=input.note)
    change.notify(change.state.unit, "urge")


def _escalate(change: Change, actor: str, input: EscalateInput) -> None:
    climb(change, Action.escalate, actor, input.reason, None)
    link_if_big(change)


def _request_extension(change: Change, actor: str, input: ExtensionRequestInput) -> None:
    """延期: the unit asks for a later reply deadline; a supervisor decides."""
    change.record(
        Action.request_extension, actor, reason=input.reason, due_at=input.due_at.isoformat()
    )
    change.notify(supervisor(change.state), "extension_requested", due_at=local(input.due_at))


def _approve_extension(change: Change, actor: str, input: ExtensionDecisionInput) -> None:
    """The reply deadline moves; the original due time is kept for the on-time KPI."""
    state = change.state
    assert state.extension is not None
    reply = state.deadlines[DeadlineKind.reply]
    change.record(
        Action.approve_extension,
        actor,
        due_at=state.extension.due_at.isoformat(),
        original_due_at=(reply.original_due_at or reply.due_at).isoformat(),
        note=input.note,
    )
    change.notify(state.unit, "extension_approved", due_at=local(reply.due_at))


def _deny_extension(change: Change, actor: str, input: ExtensionDecisionInput) -> None:
    change.record(Action.deny_extension, actor, note=input.note)
    change.notify(change.state.unit, "extension_denied")


def _request_assist(change: Change, actor: str, input: AssistRequestInput) -> None:
    """协办: the lead unit asks for assisting units; a dispatcher or supervisor decides."""
    units = list(dict.fromkeys(input.units))
    change.record(
        Action.request_assist, actor, unit=change.state.unit, units=units, reason=input.reason
    )
    change.notify(supervisor(change.state), "assist_requested", units=",".join(units))


def _approve_assist(change: Change, actor: str, input: AssistDecisionInput) -> None:
    """Each assisting unit gets its part, with its own clocks, as a linkage's agency does."""
    request = change.state.assist
    assert request is not None
    change.record(Action.approve_assist, actor, units=request.units, note=input.note)
    link(change, actor, request.reason, request.units, LinkageKind.assist)


def _deny_assist(change: Change, actor: str, input: AssistDecisionInput) -> None:
    change.record(Action.deny_assist, actor, note=input.note)
    change.notify(change.state.unit, "assist_denied")


def _suspend(change: Change, actor: str, input: SuspendInput) -> None:
    """挂起: waiting on the resident or a third party; every clock stops."""
    change.record(Action.suspend, actor, reason=input.reason)


def _resume(change: Change, actor: str, input: ResumeInput) -> None:
    restart_clocks(change, Action.resume, actor, input.note)


def _review_close(change: Change, actor: str, input: ReviewCloseInput) -> None:
    change.record(Action.review_close, actor, verdict=input.verdict)
    close(change, Outcome.rated if change.state.grade else Outcome.unrated)


def _reopen(change: Change, actor: str, input: ReopenInput) -> None:
    """Back to the same unit with a fresh reply deadline: a supervisor's review sends it back,
    or the resident reopens it after closure (counted against the unit either way)."""
    state = change.state
    after_closure = state.status is CaseStatus.closed
    change.record(
        Action.reopen,
        actor,
        reason=input.reason,
        unit=state.unit,
        after_closure=after_closure,
        due={"reply": change.due(DeadlineKind.reply)},
    )
    # By whom, as a code: a supervisor's review, or the resident after closure.
    change.notify(state.unit, "reopened", by="resident" if after_closure else "supervisor")


def _open_linkage(change: Change, actor: str, input: OpenLinkageInput) -> None:
    """吹哨 by hand, with any agencies."""
    change.record(Action.open_linkage, actor, reason=input.reason, agencies=input.agencies)
    link(change, actor, input.reason, input.agencies)


def _resolve_on_site(change: Change, actor: str, input: ResolveOnSiteInput) -> None:
    """小事不出网格: the grid worker solves it now, with a photo; the committee confirms."""
    change.record(
        Action.resolve_on_site,
        actor,
        evidence_url=str(input.evidence_url),
        note=input.note,
        due={"verify": change.due(DeadlineKind.verify)},
    )
    committee = change.state.routed.committee if change.state.routed else None
    change.notify(committee, "confirm")


def _confirm(change: Change, actor: str, input: ConfirmInput) -> None:
    change.record(Action.confirm, actor, note=input.note)
    close(change, Outcome.self_resolved)


def _verify(change: Change, actor: str, input: VerifyInput) -> None:
    """核查: fixed closes the event; not fixed sends it back with a fresh reply deadline."""
    due = {} if input.fixed else {"due": {"reply": change.due(DeadlineKind.reply)}}
    change.record(
        Action.verify,
        actor,
        fixed=input.fixed,
        note=input.note,
        evidence_url=str(input.evidence_url) if input.evidence_url else None,
        **due,
    )
    if input.fixed:
        close(change, Outcome.verified)
    else:
        change.notify(change.state.unit, "not_fixed")


def _merge(change: Change, actor: str, input: MergeInput) -> None:
    """Folded into its master: closed as a duplicate; its reporter gets the master's reply."""
    change.record(Action.merge, actor, into=input.into, reason=input.reason)
    change.notify(reporter(change.state.intake.case_id), "merged", into=input.into)
    close(change, Outcome.duplicate)
    change.step.merge_into = input.into


def _split(change: Change, actor: str, input: SplitInput) -> None:
    """拆分: each matter becomes a child case (filed and started by the workflow); the
    resident hears from the parent, which gathers the children's replies."""
    children = children_of(change.state.intake.case_id, input.children)
    change.record(
        Action.split_,
        actor,
        reason=input.reason,
        unit=change.state.unit,
        children=[c.model_dump(mode="json") for c in children],
    )
    change.notify(change.state.unit, "split", children=",".join(c.case_id for c in children))
    change.step.open_children = Children(parent=change.state.intake.case_id, children=children)


_ACTIONS: dict[Action, Any] = {
    Action.accept: _accept,
    Action.return_: _return,
    Action.reassign: _reassign,
    Action.dispute: _dispute,
    Action.rule_on_return: _rule_on_return,
    Action.reject: _reject,
    Action.contact: _contact,
    Action.progress: _progress,
    Action.reply: _reply,
    Action.rate: _rate,
    Action.urge: _urge,
    Action.escalate: _escalate,
    Action.request_extension: _request_extension,
    Action.approve_extension: _approve_extension,
    Action.deny_extension: _deny_extension,
    Action.request_assist: _request_assist,
    Action.approve_assist: _approve_assist,
    Action.deny_assist: _deny_assist,
    Action.suspend: _suspend,
    Action.resume: _resume,
    Action.review_close: _review_close,
    Action.reopen: _reopen,
    Action.open_linkage: _open_linkage,
    Action.resolve_on_site: _resolve_on_site,
    Action.confirm: _confirm,
    Action.verify: _verify,
    Action.merge: _merge,
    Action.visit: _visit,
    Action.add_info: _add_info,
    Action.chase: _chase,
    Action.appeal: _appeal,
    Action.rule_on_appeal: _rule_on_appeal,
    Action.split_: _split,
}


def merged_in(state: CaseState, merged: MergedCase, now: datetime) -> Step:
    """A duplicate was folded into this case: its reporter will get this case's reply."""
    change = Change(state, now)
    if state.status is not CaseStatus.closed:  # closed meanwhile: the duplicate's record says
        change.record(EventType.merged_in, merged.actor, case=merged.case_id, title=merged.title)
    return change.done()


def child_closed(state: CaseState, closed: ChildClosed, now: datetime) -> Step:
    """A child case closed: recorded once; the last one closes the parent, whose reply gathers
    theirs. (A child closing again after a reopen finds the parent closed: nothing changes.)"""
    change = Change(state, now)
    open_children = {c.id for c in state.children if c.outcome is None}
    if state.status is not CaseStatus.split_ or closed.case_id not in open_children:
        return change.done()
    change.record(
        EventType.child_closed,
        SYSTEM,
        case=closed.case_id,
        outcome=closed.outcome.value,
        result=closed.result,
        grade=closed.grade.value if closed.grade else None,
    )
    if open_children == {closed.case_id}:
        close(change, Outcome.split_)
    return change.done()


def linkage_changed(state: CaseState, linkage: LinkageChange, now: datetime) -> Step:
    """The linkage reports a step; the case records it (the one writer of the record)."""
    change = Change(state, now)
    current = state.linkage
    if current is None or current.id != linkage.view.id or not state.linkage_open:
        return change.done()  # an old linkage's, or the case closed first: changes nothing
    change.record(
        linkage.type, linkage.actor, **linkage.data, linkage=linkage.view.model_dump(mode="json")
    )
    change.step.notices.extend(n.model_copy(update={"seq": state.seq + 1}) for n in linkage.notify)
    return change.done()

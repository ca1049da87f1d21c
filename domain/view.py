"""What a case shows: the view the workflow query, the API and the case row read, built from its
state (`domain.state`)."""

from __future__ import annotations

from domain.case import Action, CaseView
from domain.state import CaseState


def view(state: CaseState, allowed: list[Action]) -> CaseView:
    """The case as the workflow query, the API and the case row show it."""
    intake, routed = state.intake, state.routed
    return CaseView(
        id=intake.case_id,
        number=intake.number,
        status=state.status,
        channel=intake.channel,
        external_ref=intake.external_ref,
        category=intake.category,
        severity=routed.severity if routed else intake.severity,
        title=intake.title,
        address=intake.location.address,
        community=routed.community if routed else intake.location.community,
        grid=routed.grid if routed else intake.location.grid,
        unit=state.unit,
        rule=state.rule,
        overdue=state.overdue,
        returns=state.returns,
        rehandled=state.rehandled,
        grade=state.grade,
        solved=state.solved,
        outcome=state.outcome,
        received_at=state.received_at,
        dispatched_at=state.dispatched_at,
        accepted_at=state.accepted_at,
        contacted_at=state.contacted_at,
        replied_at=state.replied_at,
        rated_at=state.rated_at,
        closed_at=state.closed_at,
        deadlines=[d.model_copy() for d in state.deadlines.values()],
        allowed_actions=allowed,
        last_seq=state.seq,
        escalation_level=state.escalation_level,
        suspended=state.suspended_at is not None,
        extension=state.extension,
        assist=state.assist,
        assists=state.assists,
        review=state.review,
        linkage=state.linkage,
        lat=intake.location.lat,
        lon=intake.location.lon,
        photo_url=intake.photo_url,
        possible_duplicate_of=intake.possible_duplicate_of,
        merged_into=state.merged_into,
        merged=list(state.merged),
        visit_due_at=state.visit_due_at,
        unreached_attempts=len(state.unreached),
        verification=state.verification,
        chases=len(state.chased),
        appeal=state.appeal,
        appealed=list(state.appealed),
        exemption=state.exemption,
        parent=intake.parent,
        children=[c.model_copy() for c in state.children],
        handoffs=state.handoffs,
        reopens=state.reopens,
        dispute=state.dispute,
        bound_unit=state.bound_unit,
        reopen_until=state.reopen_until(),
    )

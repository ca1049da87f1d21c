"""A policy change reaches an open case: an administrator changed the SLA policy the case was
dispatched under and chose that open cases follow. The case keeps its recorded routing with the
new limits, and each deadline still running moves by what the new limit changes (a deadline met
or missed stays as it was; an extension a supervisor approved stands; the first due time is
kept as `original_due_at`). The workflow re-plans its timers from the new state like after any
change, and cases dispatched afterwards are routed with the new policy anyway.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel

from domain.change import SYSTEM, Change, Step
from domain.sla import SlaPolicy, due_at
from domain.state import CaseState

POLICY_CHANGED = "policy_changed"


class PolicyFollowed(BaseModel):
    """What an open case is told: the policy as changed, and who changed it."""

    policy: SlaPolicy
    actor: str


def follow(state: CaseState, policy: SlaPolicy, now: datetime, actor: str = SYSTEM) -> Step:
    """The case takes `policy` if it runs under that policy's code (else nothing changes)."""
    change = Change(state, now)
    routed = state.routed
    if state.outcome is not None or routed is None or routed.policy.code != policy.code:
        return change.done()
    if routed.policy == policy:
        return change.done()
    old, calendar = routed.policy, routed.working_days
    moved, previous = {}, {}
    for d in state.deadlines.values():
        if d.met_at is not None or d.missed or d.extended:
            continue
        start = d.started_at or now
        # By the difference the limit makes, so a suspension's shift of the due time stays.
        shift = due_at(start, policy.limit(d.kind), calendar) - due_at(
            start, old.limit(d.kind), calendar
        )
        if shift:
            moved[d.kind.value] = (d.due_at + shift).isoformat()
            previous[d.kind.value] = d.due_at.isoformat()
    change.record(
        POLICY_CHANGED,
        actor,
        policy=policy.code,
        routed=routed.model_copy(update={"policy": policy}).model_dump(mode="json"),
        moved=moved,
        previous=previous,
    )
    return change.done()


def open_cases_query(policy: SlaPolicy) -> str:
    """The visibility query for the running cases a policy may cover: its category's, or its
    severity's (a case whose category has its own policy is told too, and ignores it)."""
    running = "WorkflowType = 'CaseWorkflow' AND ExecutionStatus = 'Running'"
    if policy.category is not None:
        return f"{running} AND CaseCategory = '{policy.category}'"
    return f"{running} AND CaseSeverity = '{policy.severity}'"

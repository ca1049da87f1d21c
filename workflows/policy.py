"""PolicyChangeWorkflow: an administrator changed an SLA policy and chose that open cases follow;
this tells every running case the policy may cover, at a bounded rate, durably (a worker restart
resumes the telling; telling a case twice changes nothing)."""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from activities.governance import GovernanceActivities
    from domain.policy_change import PolicyFollowed


@workflow.defn
class PolicyChangeWorkflow:
    @workflow.run
    async def run(self, followed: PolicyFollowed) -> int:
        return await workflow.execute_activity_method(
            GovernanceActivities.tell_open_cases,
            followed,
            start_to_close_timeout=timedelta(hours=2),
            heartbeat_timeout=timedelta(minutes=2),
            retry_policy=RetryPolicy(maximum_interval=timedelta(minutes=1)),
            summary=f"tell the open cases of {followed.policy.code}",
        )

"""PolicyChangeWorkflow: an administrator changed an SLA policy and chose that open cases follow;
this tells every running case the policy may cover, at a bounded rate, durably (a worker restart
resumes the telling; telling a case twice changes nothing)."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import TYPE_CHECKING

from temporalio import workflow
from temporalio.common import RetryPolicy

if TYPE_CHECKING:
    from temporalio.client import Client

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


async def tell_open_cases(client: Client, task_queue: str, followed: PolicyFollowed) -> str:
    """Start the durable telling of a changed policy's open cases (PUT /v1/policies/{code} and
    `gridcase seed --open-cases-follow`); returns its workflow id."""
    telling = f"policy-{followed.policy.code}-{uuid.uuid4().hex[:8]}"
    await client.start_workflow(
        PolicyChangeWorkflow.run,
        followed,
        id=telling,
        task_queue=task_queue,
        static_summary=f"{followed.policy.code} changed: tell its open cases",
    )
    return telling

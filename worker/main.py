"""The worker: connect, register the case workflow and its activities, run."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.client import Client
from temporalio.worker import Worker

from activities.cases import CaseActivities
from workflows.case import CaseWorkflow
from workflows.linkage import LinkageWorkflow

# Every workflow type this worker runs (the replay test checks recorded histories of each).
WORKFLOWS = [CaseWorkflow, LinkageWorkflow]


def build_worker(
    client: Client, sessions: async_sessionmaker[AsyncSession], task_queue: str
) -> Worker:
    activities = CaseActivities(sessions)
    return Worker(
        client,
        task_queue=task_queue,
        workflows=WORKFLOWS,
        activities=[activities.route_case, activities.record_case, activities.count_unrated],
    )

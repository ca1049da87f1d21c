"""The worker: connect, register the case workflow and its activities, run."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.client import Client
from temporalio.worker import Worker

from activities.cases import CaseActivities
from activities.governance import GovernanceActivities
from core.config import Settings, get_settings
from workflows.case import CaseWorkflow
from workflows.hotspot import HotspotWorkflow
from workflows.linkage import LinkageWorkflow
from workflows.policy import PolicyChangeWorkflow
from workflows.recurring import RecurringTaskWorkflow

# Every workflow type this worker runs (the replay test checks recorded histories of each).
WORKFLOWS = [
    CaseWorkflow,
    LinkageWorkflow,
    HotspotWorkflow,
    RecurringTaskWorkflow,
    PolicyChangeWorkflow,
]


def build_worker(
    client: Client,
    sessions: async_sessionmaker[AsyncSession],
    task_queue: str,
    *,
    hotspots: bool = False,
    settings: Settings | None = None,
) -> Worker:
    """`hotspots`: feed every request to its grid's hot spot (what `gridcase worker` does; off
    by default so tests that file many alike cases do not raise governance cases)."""
    activities = CaseActivities(sessions, hotspots=hotspots)
    governance = GovernanceActivities(sessions, settings or get_settings())
    return Worker(
        client,
        task_queue=task_queue,
        workflows=WORKFLOWS,
        activities=[
            activities.route_case,
            activities.record_case,
            activities.count_unrated,
            governance.hotspot_rule,
            governance.open_governance_case,
            governance.record_hotspot,
            governance.task_grids,
            governance.open_task_case,
            governance.tell_open_cases,
        ],
    )

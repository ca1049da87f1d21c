"""The worker: connect, register the case workflow and its activities, run."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.client import Client
from temporalio.worker import PollerBehaviorSimpleMaximum, Worker

from activities.cases import CaseActivities
from activities.governance import GovernanceActivities
from core.config import Settings, get_settings
from domain.governance import GovernanceConfig
from workflows.appeal import AppealWorkflow
from workflows.case import CaseWorkflow
from workflows.hotspot import HotspotWorkflow
from workflows.linkage import LinkageWorkflow
from workflows.policy import PolicyChangeWorkflow
from workflows.recurring import RecurringTaskWorkflow

# Every workflow type this worker runs (the replay test checks recorded histories of each).
WORKFLOWS = [
    CaseWorkflow,
    AppealWorkflow,
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
    governance: bool = False,
    settings: Settings | None = None,
    graceful_shutdown: timedelta = timedelta(),
) -> Worker:
    """`governance`: feed every request to its grid's hot spot and check it for repeats (what
    `gridcase worker` does; off by default so tests that file many alike cases raise no
    governance cases and flag no repeats).
    `graceful_shutdown`: how long running activities may finish after a stop signal."""
    settings = settings or get_settings()
    config = GovernanceConfig.load(settings.config_dir) if governance else None
    activities = CaseActivities(sessions, governance=config)
    proactive = GovernanceActivities(sessions, settings)
    return Worker(
        client,
        task_queue=task_queue,
        workflows=WORKFLOWS,
        activities=[
            activities.route_case,
            activities.record_case,
            activities.count_unrated,
            activities.open_children,
            proactive.hotspot_rule,
            proactive.open_governance_case,
            proactive.record_hotspot,
            proactive.task_grids,
            proactive.open_task_case,
            proactive.tell_open_cases,
        ],
        graceful_shutdown_timeout=graceful_shutdown,
        max_cached_workflows=settings.worker_max_cached_workflows,
        max_concurrent_workflow_tasks=settings.worker_max_concurrent_workflow_tasks,
        max_concurrent_activities=settings.worker_max_concurrent_activities,
        max_concurrent_local_activities=settings.worker_max_concurrent_local_activities,
        workflow_task_poller_behavior=PollerBehaviorSimpleMaximum(
            settings.worker_workflow_task_pollers
        ),
        activity_task_poller_behavior=PollerBehaviorSimpleMaximum(
            settings.worker_activity_task_pollers
        ),
    )

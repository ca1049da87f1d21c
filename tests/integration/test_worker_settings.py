"""The worker's capacity comes from settings (GRIDCASE_WORKER_...), so an operator sizes its
cache and pollers to the open cases it carries (README "Many open cases")."""

from __future__ import annotations

import pytest
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import PollerBehaviorSimpleMaximum

from core.config import Settings
from tests.conftest import unique_queue
from worker.main import build_worker


async def test_the_worker_takes_its_cache_slots_and_pollers_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
    time_skipping: WorkflowEnvironment,
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    for name, value in {
        "MAX_CACHED_WORKFLOWS": "12000",
        "MAX_CONCURRENT_WORKFLOW_TASKS": "40",
        "MAX_CONCURRENT_ACTIVITIES": "30",
        "MAX_CONCURRENT_LOCAL_ACTIVITIES": "20",
        "WORKFLOW_TASK_POLLERS": "3",
        "ACTIVITY_TASK_POLLERS": "2",
    }.items():
        monkeypatch.setenv(f"GRIDCASE_WORKER_{name}", value)
    worker = build_worker(time_skipping.client, sessions, unique_queue(), settings=Settings())
    config = worker.config()
    assert config.get("max_cached_workflows") == 12000
    assert config.get("max_concurrent_workflow_tasks") == 40
    assert config.get("max_concurrent_activities") == 30
    assert config.get("max_concurrent_local_activities") == 20
    assert config.get("workflow_task_poller_behavior") == PollerBehaviorSimpleMaximum(3)
    assert config.get("activity_task_poller_behavior") == PollerBehaviorSimpleMaximum(2)


def test_a_worker_setting_the_sdk_would_refuse_at_start_is_refused_at_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # With a cache, the SDK needs two workflow pollers (one sticky, one not) and two task slots.
    monkeypatch.setenv("GRIDCASE_WORKER_WORKFLOW_TASK_POLLERS", "1")
    with pytest.raises(ValidationError, match="worker_workflow_task_pollers"):
        Settings()

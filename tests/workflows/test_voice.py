"""The resident's chasers on the time-skipping server: the policy's number a local day, refused
before history once used up, and counted on the case's record."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.client import WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError
from temporalio.testing import WorkflowEnvironment

from domain.case import Action
from domain.permissions import Principal, Role
from domain.voice import AddInfoInput, ChaseInput
from tests.workflows.conftest import act, events_of, row_of
from workflows.refusal import NOT_ALLOWED_NOW


async def test_chasers_are_limited_per_day_and_counted_on_the_record(
    start: Any, sessions: async_sessionmaker[AsyncSession], time_skipping: WorkflowEnvironment
) -> None:
    handle = await start()
    resident = Principal(subject="resident", role=Role.resident, case_id=handle.id)
    await act(handle, Action.add_info, AddInfoInput(note="还有一处"), resident)
    await act(handle, Action.chase, ChaseInput(), resident)
    await act(handle, Action.chase, ChaseInput(), resident)
    with pytest.raises(WorkflowUpdateFailedError) as refused:
        await act(handle, Action.chase, ChaseInput(), resident)
    cause = refused.value.cause
    assert isinstance(cause, ApplicationError) and cause.type == NOT_ALLOWED_NOW
    await time_skipping.sleep(timedelta(days=1))
    view = await act(handle, Action.chase, ChaseInput(note="第二天了"), resident)
    assert view.chases == 3
    voice = [e for e in await events_of(sessions, handle.id) if e in ("add_info", "chase")]
    assert voice == ["add_info", "chase", "chase", "chase"]  # the deadlines ran meanwhile
    assert (await row_of(sessions, handle.id)).chases == 3

"""Every recorded history must replay against the current workflow code: a change that would
break a running case (a command added, removed or reordered without `workflow.patched`) fails
here instead of in production."""

from __future__ import annotations

from datetime import timedelta

import pytest
from temporalio import workflow
from temporalio.client import WorkflowHistory
from temporalio.worker import Replayer

from core.config import Settings
from core.temporal import data_converter
from domain.case import CaseIntake, CaseView
from domain.state import CaseState
from tests.replay import HISTORIES, VERSION
from worker.main import WORKFLOWS
from workflows.case import CaseWorkflow

RECORDED = sorted(HISTORIES.glob("*.json"))


def test_there_are_recorded_histories_of_every_workflow_type() -> None:
    kinds = {path.name.split("-", 1)[0] for path in RECORDED}
    assert kinds >= {"case", "linkage", "hotspot", "recurring"}


@pytest.mark.parametrize("path", RECORDED, ids=lambda p: p.stem)
async def test_recorded_history_replays_against_current_code(path) -> None:  # type: ignore[no-untyped-def]
    history = WorkflowHistory.from_json(path.stem, path.read_text(encoding="utf-8"))
    # Recorded before encryption (plaintext) or with the suite's key: the codec reads both.
    converter = data_converter(Settings(), plaintext=True)
    replayer = Replayer(workflows=WORKFLOWS, data_converter=converter)
    result = await replayer.replay_workflow(history, raise_on_replay_failure=False)
    assert result.replay_failure is None, f"{path.name}: {result.replay_failure}"


@workflow.defn(name="CaseWorkflow", sandboxed=False)  # defined in a test module
class CaseWorkflowWithOneMoreTimer(CaseWorkflow):
    """Version 1 with one command added before the rest: what an unguarded change looks like."""

    @workflow.run
    async def run(self, start: CaseIntake | CaseState) -> CaseView:
        await workflow.sleep(timedelta(seconds=1))
        return await super().run(start)


async def test_a_history_fails_to_replay_when_a_command_is_added() -> None:
    path = sorted(HISTORIES.glob(f"case-{VERSION}-*.json"))[0]
    history = WorkflowHistory.from_json(path.stem, path.read_text(encoding="utf-8"))
    converter = data_converter(Settings(), plaintext=True)
    changed = [CaseWorkflowWithOneMoreTimer, *(w for w in WORKFLOWS if w is not CaseWorkflow)]
    replayer = Replayer(workflows=changed, data_converter=converter)
    result = await replayer.replay_workflow(history, raise_on_replay_failure=False)
    assert result.replay_failure is not None
    assert "nondeterminism" in str(result.replay_failure).lower()

"""Every recorded history must replay against the current workflow code: a change that would
break a running case (a command added, removed or reordered without `workflow.patched`) fails
here instead of in production."""

from __future__ import annotations

import pytest
from temporalio.client import WorkflowHistory
from temporalio.worker import Replayer

from core.config import Settings
from core.temporal import data_converter
from tests.replay import HISTORIES
from worker.main import WORKFLOWS

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

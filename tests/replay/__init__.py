"""Recorded workflow histories replayed against the current code (test_replay.py).

Record new ones with `GRIDCASE_RECORD_HISTORIES=1 pytest tests/workflows`; keep the old ones:
they are what running cases look like to a worker that was just upgraded."""

import os
from pathlib import Path

from temporalio.client import WorkflowHistory

HISTORIES = Path(__file__).resolve().parent / "histories"
# Bump when recording histories of a new workflow version, so older recordings stay (and guard
# the changed commands with `workflow.patched`): v1 = the lifecycle model's shell (gridcase was
# not deployed before it, so earlier recordings and their patches were squashed into it).
VERSION = "v1"


def keep_history(kind: str, test: str, n: int, history: WorkflowHistory) -> None:
    """Save a history as a replay fixture when GRIDCASE_RECORD_HISTORIES is set."""
    if os.environ.get("GRIDCASE_RECORD_HISTORIES"):
        path = HISTORIES / f"{kind}-{VERSION}-{test.removeprefix('test_')}-{n}.json"
        path.write_text(history.to_json(), encoding="utf-8")

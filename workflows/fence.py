"""The fence a workflow task's record carries (db.cases.record): how much of the case's history
the task had seen, ordered across runs. A retried task has seen at least what its lost attempt
had; a stale task (one the server gave out before a restart and a worker ran late) has seen
less than the tasks that recorded after it, so its record gives way to theirs."""

from __future__ import annotations

from temporalio import workflow

# A run's history stays far below this many events (HISTORY_LIMIT, the server's 50k limit).
_EVENTS_PER_RUN = 100_000


def fence() -> int:
    """The run's start (in ms, so a later run or workflow of the case ranks above), then the
    current task's history length."""
    info = workflow.info()
    started_ms = int(info.workflow_start_time.timestamp() * 1000)
    return started_ms * _EVENTS_PER_RUN + info.get_current_history_length()

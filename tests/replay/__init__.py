"""Recorded workflow histories replayed against the current code (test_replay.py).

Record new ones with `GRIDCASE_RECORD_HISTORIES=1 pytest tests/workflows`; keep the old ones:
they are what running cases look like to a worker that was just upgraded."""

from pathlib import Path

HISTORIES = Path(__file__).resolve().parent / "histories"
# Bump when recording histories of a new workflow version, so older recordings stay:
# v1 = walking skeleton, v2 = reminders, ladder, extensions, suspension, review queue,
# v3 = multi-agency linkage, v4 = grid events (resolve on site, verify), duplicates.
VERSION = "v4"

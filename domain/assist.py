"""主办/协办: the lead unit (the first that accepted stays responsible, 首接负责制) asks for
assisting units; a dispatcher or supervisor approves or denies. Approved, each assisting unit
holds a part of the case with its own clocks, run by the linkage machinery (`domain.linkage`,
kind `assist`): it signs for its part (`report`), finishes it (`agency_done`), and the lead unit
replies once every part is done."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from domain.common import ActionInput, Code, Text

# More than this is a linkage for the governance centre to open, not help a unit asks for.
MAX_ASSISTING = 5


class AssistRequestInput(ActionInput):
    units: Annotated[list[Code], Field(min_length=1, max_length=MAX_ASSISTING)]
    reason: Text


class AssistDecisionInput(ActionInput):
    note: Text | None = None

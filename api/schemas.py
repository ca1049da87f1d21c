"""Request and response bodies of the HTTP API (the domain models, plus what only HTTP needs)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Annotated, Any

from fastapi import Path
from pydantic import BaseModel, ConfigDict, Field, HttpUrl, StringConstraints

from domain.case import (
    CASE_ID_PATTERN,
    Action,
    CaseStatus,
    CaseView,
    Channel,
    Location,
    Reporter,
    Severity,
)
from domain.common import Clean, Code, Description, ShortText
from domain.kpi import StatsRow
from domain.linkage import LinkageView
from domain.sla import DeadlineKind
from domain.timeline import DeadlineState

# The fuzz test sends the example: a number the suite never reaches, or it would hit a case of
# another test whose worker has stopped (an honest 503 that reads as a server error there).
CaseId = Annotated[str, Path(pattern=CASE_ID_PATTERN, examples=["LC-2026-012345"])]


class CaseCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    channel: Channel
    external_ref: (
        Annotated[Clean, StringConstraints(strip_whitespace=True, min_length=1, max_length=128)]
        | None
    ) = Field(
        default=None,
        description="Hotline ticket, app request or patrol event id: "
        "the same channel + external_ref always returns the same case.",
    )
    category: Code
    severity: Severity | None = Field(default=None, description="Defaults to the category's.")
    title: ShortText
    description: Description
    location: Location
    reporter: Reporter
    photo_url: HttpUrl | None = Field(
        default=None, description="A grid worker's photo of what was found (grid_patrol)."
    )


class PendingDeadline(BaseModel):
    kind: DeadlineKind
    due_at: datetime


class LiveState(BaseModel):
    """What only the running workflow knows: its timers and what may be done now."""

    status: CaseStatus
    allowed_actions: list[Action]
    pending_deadlines: list[PendingDeadline]
    linkage: LinkageView | None = None  # its agencies and their clocks


class CaseOut(CaseView):
    reporter: Reporter | None = None
    live: LiveState | None = None
    resident_token: str | None = Field(
        default=None,
        description="Only in the answer to POST /v1/cases: the resident's token for this case",
    )


class CaseSummary(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    number: int
    status: CaseStatus
    channel: Channel
    category: str
    severity: Severity | None
    title: str
    address: str
    community: str | None
    grid: str | None
    unit: str | None
    overdue: bool
    escalation_level: int
    possible_duplicate_of: str | None
    merged_into: str | None
    linkage: str | None
    review: str | None
    due_at: datetime | None
    received_at: datetime
    closed_at: datetime | None


class CasePage(BaseModel):
    items: list[CaseSummary]
    next_before: int | None = Field(
        description="sort=newest: pass as `before` to get the next page; null on the last page."
    )
    next_cursor: str | None = Field(
        default=None, description="sort=due: pass as `cursor` to get the next page."
    )

    @classmethod
    def of(cls, rows: Sequence[Any], limit: int) -> CasePage:
        """A page from `limit + 1` rows: the extra row only says there is a next page."""
        items = [CaseSummary.model_validate(r) for r in rows[:limit]]
        return cls(items=items, next_before=items[-1].number if len(rows) > limit else None)


class CaseCount(BaseModel):
    count: int = Field(description="Cases in the caller's scope that match the query")
    overdue: int = Field(description="Of them, overdue")
    at_risk: int = Field(description="Of them, past the warning point of their next deadline")


class EventOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    seq: int
    type: str
    at: datetime
    actor: str
    data: dict[str, object]
    deadlines: dict[str, DeadlineState] = Field(
        default={}, description="Where each deadline stood after this event"
    )


class CommunityOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    code: str
    name: str
    secretary: str | None


class GridOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    code: str
    name: str
    community: str
    forces: list[str]


class UnitOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    code: str
    name: str
    kind: str
    community: str | None
    grid: str | None
    agency: str | None


class CategoryOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    code: str
    name: str
    kinds: list[str]
    default_severity: Severity
    unit_kind: str
    government_matter: bool
    linkage: bool


class StatsOut(BaseModel):
    """KPIs of the cases received in [from, to] (local dates, `to` included), per group."""

    model_config = ConfigDict(populate_by_name=True)

    from_: str = Field(alias="from")
    to: str
    group_by: list[str]
    rows: list[StatsRow]
    total: StatsRow

"""拆分: one request that covers several matters becomes child cases, each with its own
category, place and unit, routed and handled like any case. The parent waits for them (each
child tells it when it closes), shows them, and closes with the last of them; its reply to the
resident gathers theirs, and the children send none of their own."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from domain.case import ChildView, Grade, Location, Outcome, Severity
from domain.common import ActionInput, Code, ShortText, Text

# What a hotline's dispatcher splits a request into; more is a new request, not a split.
MAX_CHILDREN = 9
# The signal a child sends its parent when it closes.
CHILD_CLOSED = "child_closed"


class ChildCase(BaseModel):
    """One matter of the request: what it is about and where (routed like any intake)."""

    model_config = ConfigDict(extra="forbid")

    category: Code
    title: ShortText
    location: Location
    severity: Severity | None = None


class SplitInput(ActionInput):
    children: Annotated[list[ChildCase], Field(min_length=2, max_length=MAX_CHILDREN)]
    reason: Text | None = None


class Child(ChildCase):
    """A child case as the split records it: with the id derived from its parent's."""

    case_id: str


class Children(BaseModel):
    """What the split activity files: the parent's children, in order."""

    parent: str
    children: list[Child]


class ChildClosed(BaseModel):
    """What a child tells its parent when it closes."""

    case_id: str
    outcome: Outcome
    result: str | None = None
    grade: Grade | None = None


def child_id(parent: str, n: int) -> str:
    """The n-th child's case id (from 1): the same on every retry, so nothing is filed twice."""
    return f"{parent}-{n}"


def children_of(parent: str, matters: list[ChildCase]) -> list[Child]:
    """The children of a split, each place as the dispatcher gave it (filing one turns its point
    into WGS-84 and keeps the original, as intake does)."""
    return [
        Child(case_id=child_id(parent, n), **matter.model_dump())
        for n, matter in enumerate(matters, start=1)
    ]


def gathered(children: list[ChildView]) -> str:
    """The parent's reply to the resident: each child's, under its title."""
    return "\n".join(f"{c.title}: {c.result or c.outcome}" for c in children)

"""Reminders, the escalation ladder, extensions and big-issue detection: the pure rules the case
lifecycle applies when a deadline comes near or passes.

Words: the ladder (the three-level linkage of docs/domain.md, 三级联动) has rungs (numbered by their
`level`); a case's escalation level is the highest rung it reached (0: only its unit).
"Linkage" alone always means the agencies' joint handling of a big issue (吹哨报到).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from pydantic import BaseModel, ConfigDict

from domain.calendar import WorkingDays
from domain.sla import due_at

# The rung of the subdistrict's governance centre: a case escalated this high is a big issue.
SUBDISTRICT_LEVEL = 2


class Rung(BaseModel):
    """One rung of the ladder, resolved for a case: who is told at this level."""

    model_config = ConfigDict(frozen=True)

    level: int
    name: str
    unit: str
    takes_over: bool = False


def warn_point(started_at: datetime, due: datetime, share: float) -> datetime:
    """The reminder goes out when `share` of the time between start and due has passed."""
    return started_at + (due - started_at) * share


def next_climb_at(due: datetime, climbs: int, every: timedelta) -> datetime:
    """A missed deadline climbs the ladder: the first rung when it is missed, then one more
    every `every` while it stays unmet (DIGIT PGR style)."""
    return due + every * climbs


def extension_refusal(
    *,
    current_due: datetime,
    requested_due: datetime,
    now: datetime,
    granted: int,
    max_extensions: int,
    max_extension: str,
    calendar: WorkingDays,
) -> str | None:
    """Why an extension request cannot be made, or None: it is asked for before the deadline,
    moves it later, stays within the policy's longest extension and count."""
    if granted >= max_extensions:
        return f"the policy allows {max_extensions} extension(s) and {granted} were granted"
    if now >= current_due:
        return "an extension must be asked for before the deadline"
    if requested_due <= current_due:
        return "the requested due time must be later than the current one"
    latest = due_at(current_due, max_extension, calendar)
    if requested_due > latest:
        return f"an extension adds at most {max_extension} (latest {latest.isoformat()})"
    return None


def big_issue_reason(
    *,
    severity: str,
    category_needs_linkage: bool,
    returns: int,
    returns_for_linkage: int,
    escalation_level: int,
) -> str | None:
    """大事: why a case needs multi-agency linkage, or None when the grid can solve it."""
    if severity == "major":
        return "severity is major"
    if category_needs_linkage:
        return "the category needs several agencies"
    if returns >= returns_for_linkage:
        return f"returned {returns} times"
    if escalation_level >= SUBDISTRICT_LEVEL:
        return "escalated to the subdistrict"
    return None

"""Reminders, the escalation ladder, extensions, suspensions and big-issue detection: the pure
rules the case workflow applies when a deadline comes near or passes."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict

from domain.sla import due_at


class LadderStep(BaseModel):
    """One rung of the three-level linkage, resolved for a case: who is told at this level."""

    model_config = ConfigDict(frozen=True)

    level: int
    name: str
    unit: str
    takes_over: bool = False


def warn_point(started_at: datetime, due: datetime, share: float) -> datetime:
    """The reminder goes out when `share` of the time between start and due has passed."""
    return started_at + (due - started_at) * share


def next_step_at(due: datetime, steps_taken: int, every: timedelta) -> datetime:
    """A missed deadline climbs the ladder: the first step when it is missed, then one more
    every `every` while it stays unmet (DIGIT PGR style)."""
    return due + every * steps_taken


def limit_as_timedelta(limit: str, tz: ZoneInfo, at: datetime) -> timedelta:
    """A limit such as `4h` or `1wd` as a duration starting at `at`."""
    return due_at(at, limit, tz) - at


def extension_refusal(
    *,
    current_due: datetime,
    requested_due: datetime,
    now: datetime,
    granted: int,
    max_extensions: int,
    max_extension: str,
    tz: ZoneInfo,
) -> str | None:
    """Why an extension request cannot be made, or None: it is asked for before the deadline,
    moves it later, stays within the policy's longest extension and count."""
    if granted >= max_extensions:
        return f"the policy allows {max_extensions} extension(s) and {granted} were granted"
    if now >= current_due:
        return "an extension must be asked for before the deadline"
    if requested_due <= current_due:
        return "the requested due time must be later than the current one"
    latest = due_at(current_due, max_extension, tz)
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
    subdistrict_level: int = 2,
) -> str | None:
    """大事: why a case needs multi-agency linkage, or None when the grid can solve it."""
    if severity == "major":
        return "severity is major"
    if category_needs_linkage:
        return "the category needs several agencies"
    if returns >= returns_for_linkage:
        return f"returned {returns} times"
    if escalation_level >= subdistrict_level:
        return "escalated to the subdistrict"
    return None

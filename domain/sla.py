"""SLA policies: a case's time limits, as data, and the maths that turns them into due times."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field, field_validator

from domain.calendar import SUBDISTRICT_TZ, WorkingDays

_LIMIT = re.compile(r"^(\d+)(m|h|d|wd)$")


class DeadlineKind(StrEnum):
    """Which step of the loop a deadline watches; one name per step across workflow, API and DB."""

    accept = "accept"  # 签收: the unit signs for (or returns) the case
    contact = "contact"  # 联系诉求人: first contact with the resident
    reply = "reply"  # 答复: the unit replies with the result
    rating = "rating"  # 回访/评价: the resident's window to rate the reply
    verify = "verify"  # 核查: the on-site check of a grid event (same window as the rating)
    appeal = "appeal"  # 申诉裁定: a supervisor rules on the unit's appeal
    ruling = "ruling"  # 裁定: the governance centre rules on a disputed return


def parse_limit(text: str) -> tuple[int, str]:
    """`30m`, `2h`, `3d` (calendar days) or `7wd` (working days) -> (amount, unit)."""
    match = _LIMIT.match(text.strip())
    if not match:
        raise ValueError(f"invalid time limit {text!r}: use 30m, 2h, 3d or 7wd")
    return int(match.group(1)), match.group(2)


def due_at(start: datetime, limit: str, calendar: WorkingDays) -> datetime:
    """When a step started at `start` (aware) with time limit `limit` is due, in `start`'s zone;
    days and working days count on the subdistrict's clock."""
    if start.tzinfo is None:
        raise ValueError("start must be timezone-aware")
    amount, unit = parse_limit(limit)
    if unit == "m":
        return start + timedelta(minutes=amount)
    if unit == "h":
        return start + timedelta(hours=amount)
    local = start.astimezone(SUBDISTRICT_TZ)
    if unit == "d":
        return (local + timedelta(days=amount)).astimezone(start.tzinfo)
    return calendar.add(local, amount).astimezone(start.tzinfo)


def duration(limit: str, calendar: WorkingDays, at: datetime) -> timedelta:
    """A limit such as `4h` or `1wd` as a duration starting at `at`."""
    return due_at(at, limit, calendar) - at


class SlaPolicy(BaseModel):
    """Time limits for one severity, optionally for one category (which then overrides). The
    one place their defaults live: the table, the loader and every case read them from here."""

    model_config = ConfigDict(frozen=True)

    code: str
    severity: str
    category: str | None = None
    accept: str
    contact: str
    reply: str
    rating_window: str
    warn_share: float = Field(default=0.8, gt=0, lt=1)
    escalate_every: str = "4h"
    max_extensions: int = Field(default=1, ge=0)
    max_extension: str = "10wd"
    max_suspensions: int = Field(default=2, ge=0)
    max_suspended: str = "15d"
    returns_for_linkage: int = Field(default=2, ge=1)
    agency_report: str = "2h"
    agency_done: str = "5wd"
    # 回访: the call is due this long after the reply; this many unreached attempts on different
    # working days close the case unreachable; this share of app ratings is verified by a call.
    visit_after: str = "1wd"
    visit_attempts: int = Field(default=3, ge=1)
    verification_share: float = Field(default=0.1, ge=0, le=1)
    # The resident's chasers (催促) a case takes per local day.
    chases_per_day: int = Field(default=2, ge=1)
    # 申诉: a unit appeals within `appeal_window` of the rating or the missed deadline; a
    # supervisor rules within `appeal`.
    appeal_window: str = "5wd"
    appeal: str = "3wd"
    # A disputed return is ruled within this; a closed case may be reopened within this.
    ruling: str = "2wd"
    reopen_window: str = "30d"

    @field_validator(
        "accept",
        "contact",
        "reply",
        "rating_window",
        "escalate_every",
        "max_extension",
        "max_suspended",
        "agency_report",
        "agency_done",
        "visit_after",
        "appeal_window",
        "appeal",
        "ruling",
        "reopen_window",
    )
    @classmethod
    def _valid_limit(cls, value: str) -> str:
        parse_limit(value)
        return value

    def limit(self, kind: DeadlineKind) -> str:
        if kind in (DeadlineKind.rating, DeadlineKind.verify):
            return self.rating_window
        return str(getattr(self, kind.value))


def select_policy(policies: list[SlaPolicy], category: str, severity: str) -> SlaPolicy:
    """The category's own policy for this severity if there is one, else the severity default."""
    matching = [p for p in policies if p.severity == severity and p.category in (category, None)]
    if not matching:
        raise LookupError(f"no SLA policy for severity {severity!r}")
    return min(matching, key=lambda p: p.category is None)

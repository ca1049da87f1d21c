"""The return-visit desk (回访): what a call records, which cases a verification call checks,
and when a resident who never answers closes the case `unreachable`.

A visit is the hotline's call after the reply: reached, the resident's grade is the rating;
not reached, the attempt is noted and, after the policy's number of unreached attempts on
different working days, the case closes `unreachable` (never counted as satisfied). A share of
the cases rated in the app is called too, to verify the rating: a verification that disagrees
is recorded beside the app's rating, which stays the case's grade.
"""

from __future__ import annotations

import hashlib
from datetime import date, datetime
from typing import Self

from pydantic import model_validator

from domain.calendar import SUBDISTRICT_TZ, WorkingDays
from domain.case import Grade
from domain.common import ActionInput, Text


class VisitInput(ActionInput):
    reached: bool
    grade: Grade | None = None  # reached: the resident's rating
    solved: bool | None = None  # reached: does the resident say the problem was solved
    note: Text | None = None  # not reached: what happened (no answer, wrong number...)

    @model_validator(mode="after")
    def _reached_rates_unreached_notes(self) -> Self:
        if self.reached and self.grade is None:
            raise ValueError("a reached resident gives a grade")
        if not self.reached and self.grade is not None:
            raise ValueError("an unreached resident gives no grade")
        if not self.reached and self.note is None:
            raise ValueError("an unreached attempt needs a note")
        return self


# How many buckets the verification sample is chosen in (a share is a whole number of them).
_BUCKETS = 10_000


def sampled_for_verification(case_id: str, share: float) -> bool:
    """Whether a case rated in the app gets a verification call: chosen from its id alone (a
    stable hash, not Python's salted `hash`), so a replay and a re-run choose the same cases."""
    digest = hashlib.sha256(case_id.encode()).digest()
    return int.from_bytes(digest[:8], "big") % _BUCKETS < round(share * _BUCKETS)


def attempt_day(at: datetime) -> date:
    """The local day an attempt was made on: attempts count once per working day."""
    return at.astimezone(SUBDISTRICT_TZ).date()


def unreached_days(days: list[date], at: datetime, calendar: WorkingDays) -> list[date]:
    """The distinct working days with an unreached attempt, with the attempt at `at` counted
    when it falls on a working day not counted yet."""
    day = attempt_day(at)
    if day in days or not calendar.is_working_day(day):
        return days
    return [*days, day]


def agrees(app: Grade, called: Grade) -> bool:
    """A verification agrees when it puts the resident on the same side of satisfied."""
    return (app is Grade.unsatisfied) == (called is Grade.unsatisfied)

"""Working days in mainland China: weekends, public holidays and adjusted working days (调休).

The holidays are reference data (the `holidays` table, seeded from `config/holidays.yaml` and
correctable with `gridcase holidays import FILE`). The routing activity reads the span a case
needs into a `WorkingDays` and the workflow records it, so a case's due times never change
when the table or a library is updated. For a day outside the span (a year not published yet)
it falls back to Monday-Friday minus the fixed-date statutory holidays, so a deadline is never
refused; it may be a day early around a movable holiday, which errs on the resident's side.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict

# The subdistrict's clock decides what a working day is and which day a case was received.
SUBDISTRICT_TZ = ZoneInfo("Asia/Shanghai")

# Fixed-date statutory holidays (New Year, Labour Day, National Day) for years not yet published.
_FIXED_HOLIDAYS = {(1, 1), (5, 1), (10, 1), (10, 2), (10, 3)}
# How far ahead the routing activity reads the holidays for one case.
SPAN = timedelta(days=400)


class WorkingDays(BaseModel):
    """The exceptions to Monday-Friday from `first` to `last` (both included): weekdays off
    (holidays) and weekend days on (调休)."""

    model_config = ConfigDict(frozen=True)

    first: date | None = None
    last: date | None = None
    off: tuple[date, ...] = ()
    on: tuple[date, ...] = ()

    def is_working_day(self, day: date) -> bool:
        if self.first is not None and self.last is not None and self.first <= day <= self.last:
            if day in self.on:
                return True
            return day.weekday() < 5 and day not in self.off
        return day.weekday() < 5 and (day.month, day.day) not in _FIXED_HOLIDAYS

    def add(self, start: datetime, days: int) -> datetime:
        """The same clock time on the `days`-th working day after `start`'s date.

        `start` must be in local (subdistrict) time; a case received on a rest day starts
        counting from the next working day, as the 12345 rules do.
        """
        if days < 0:
            raise ValueError("days must not be negative")
        day, remaining = start.date(), days
        while remaining > 0:
            day += timedelta(days=1)
            if self.is_working_day(day):
                remaining -= 1
        return start + timedelta(days=(day - start.date()).days)


def working_days_from(
    start: date, holidays: dict[date, bool], published_until: date | None, last: date
) -> WorkingDays:
    """The span from `start` to `last`, from the holidays table's rows (day -> working?) and
    the last day of the last year the table covers."""
    if published_until is None or published_until < start:
        return WorkingDays()
    last = min(last, published_until)
    days = {d: w for d, w in holidays.items() if start <= d <= last}
    return WorkingDays(
        first=start,
        last=last,
        off=tuple(sorted(d for d, working in days.items() if not working and d.weekday() < 5)),
        on=tuple(sorted(d for d, working in days.items() if working and d.weekday() >= 5)),
    )


def local(moment: datetime) -> str:
    """Times people read (notifications, their templates' parameters) are the subdistrict's."""
    return moment.astimezone(SUBDISTRICT_TZ).strftime("%Y-%m-%d %H:%M")

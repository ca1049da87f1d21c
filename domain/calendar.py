"""Working days in mainland China: weekends, public holidays and adjusted working days (调休).

`chinese-calendar` knows the State Council's published schedule year by year. For a year it does
not know yet (the schedule for year N is published in late N-1), we fall back to Monday-Friday
plus the fixed-date statutory holidays, so a deadline is never refused; it may be a day early
around a movable holiday, which errs on the resident's side.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

import chinese_calendar

# The subdistrict's clock decides what a working day is and which day a case was received.
SUBDISTRICT_TZ = ZoneInfo("Asia/Shanghai")

# Fixed-date statutory holidays (New Year, Labour Day, National Day) for years not yet published.
_FIXED_HOLIDAYS = {(1, 1), (5, 1), (10, 1), (10, 2), (10, 3)}


def is_working_day(day: date) -> bool:
    try:
        return bool(chinese_calendar.is_workday(day))
    except NotImplementedError:
        return day.weekday() < 5 and (day.month, day.day) not in _FIXED_HOLIDAYS


def add_working_days(start: datetime, days: int) -> datetime:
    """The same clock time on the `days`-th working day after `start`'s date.

    `start` must be in local (subdistrict) time; a case received on a rest day starts counting
    from the next working day, as the 12345 rules do.
    """
    if days < 0:
        raise ValueError("days must not be negative")
    return start + timedelta(days=(working_day_after(start.date(), days) - start.date()).days)


@lru_cache(maxsize=8192)
def working_day_after(day: date, days: int) -> date:
    """The `days`-th working day after `day` (cached: bulk history asks the same dates often)."""
    remaining = days
    while remaining > 0:
        day += timedelta(days=1)
        if is_working_day(day):
            remaining -= 1
    return day

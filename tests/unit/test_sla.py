"""SLA maths: limits as data, working days that honour holidays and adjusted working days."""

from datetime import UTC, date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from db.reference import read_holidays
from domain.calendar import WorkingDays, working_days_from
from domain.sla import SlaPolicy, due_at, parse_limit, select_policy

SHANGHAI = ZoneInfo("Asia/Shanghai")
# Autumn 2026 as the State Council published it: Mid-Autumn on Friday 25 September; National
# Day 1-7 October off (3 and 4 are a weekend anyway), Saturday 10 October worked (调休).
AUTUMN_2026 = WorkingDays(
    first=date(2026, 9, 21),
    last=date(2026, 12, 31),
    off=(
        date(2026, 9, 25),
        date(2026, 10, 1),
        date(2026, 10, 2),
        date(2026, 10, 5),
        date(2026, 10, 6),
        date(2026, 10, 7),
    ),
    on=(date(2026, 10, 10),),
)
UNKNOWN = WorkingDays()  # no holidays table: weekdays minus the fixed-date holidays


def local(*args: int) -> datetime:
    return datetime(*args, tzinfo=SHANGHAI)


def test_limits_parse_in_every_unit() -> None:
    assert parse_limit("30m") == (30, "m")
    assert parse_limit("2h") == (2, "h")
    assert parse_limit("3d") == (3, "d")
    assert parse_limit("7wd") == (7, "wd")
    for bad in ("", "7", "7 days", "-1h", "2w"):
        with pytest.raises(ValueError):
            parse_limit(bad)


def test_clock_limits_ignore_the_calendar() -> None:
    start = local(2026, 10, 1, 9, 0)  # National Day
    assert due_at(start, "2h", AUTUMN_2026) == local(2026, 10, 1, 11, 0)
    assert due_at(start, "3d", AUTUMN_2026) == local(2026, 10, 4, 9, 0)


def test_working_days_skip_the_national_day_holiday_and_count_the_adjusted_saturday() -> None:
    # Wed 30 Sep 2026 10:00; 1-7 Oct are holidays; Sat 10 Oct is an adjusted working day (调休).
    start = local(2026, 9, 30, 10, 0)
    assert due_at(start, "1wd", AUTUMN_2026) == local(2026, 10, 8, 10, 0)
    assert due_at(start, "3wd", AUTUMN_2026) == local(2026, 10, 10, 10, 0)
    # Sun 11 Oct is a rest day, so the fourth working day is Monday.
    assert due_at(start, "4wd", AUTUMN_2026) == local(2026, 10, 12, 10, 0)


def test_due_time_comes_back_in_the_caller_timezone() -> None:
    start = datetime(2026, 9, 30, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai
    assert due_at(start, "3wd", AUTUMN_2026) == datetime(2026, 10, 10, 2, 0, tzinfo=UTC)


def test_a_case_received_on_a_rest_day_counts_from_the_next_working_day() -> None:
    saturday = local(2026, 11, 28, 15, 0)
    assert AUTUMN_2026.add(saturday, 1) == local(2026, 11, 30, 15, 0)


def test_years_not_yet_published_fall_back_to_weekdays_and_fixed_holidays() -> None:
    assert not UNKNOWN.is_working_day(date(2099, 1, 1))  # New Year, a Thursday
    assert UNKNOWN.is_working_day(date(2099, 1, 2))
    assert not UNKNOWN.is_working_day(date(2099, 1, 3))  # Saturday
    assert UNKNOWN.add(local(2099, 9, 30, 9, 0), 1) == local(2099, 10, 5, 9, 0)
    # A span that ends before the day asked about falls back the same way.
    assert not AUTUMN_2026.is_working_day(date(2027, 1, 1))


def test_the_shipped_holidays_file_gives_the_published_schedule() -> None:
    rows = read_holidays(Path(__file__).resolve().parents[2] / "config" / "holidays.yaml")
    table = {row["day"]: row["working"] for row in rows}
    span = working_days_from(date(2026, 9, 21), table, date(2026, 12, 31), date(2026, 12, 31))
    assert span == AUTUMN_2026


def test_naive_start_is_refused() -> None:
    with pytest.raises(ValueError):
        due_at(datetime(2026, 1, 5, 9, 0), "1wd", AUTUMN_2026)


def _policy(code: str, severity: str, category: str | None = None, reply: str = "7wd") -> SlaPolicy:
    return SlaPolicy(
        code=code,
        severity=severity,
        category=category,
        accept="2h",
        contact="24h",
        reply=reply,
        rating_window="3wd",
    )


def test_category_policy_overrides_the_severity_default() -> None:
    policies = [
        _policy("normal", "normal"),
        _policy("consult", "normal", "consultation.policy", "3wd"),
    ]
    assert select_policy(policies, "consultation.policy", "normal").reply == "3wd"
    assert select_policy(policies, "sanitation.dead_corner", "normal").code == "normal"
    with pytest.raises(LookupError):
        select_policy(policies, "sanitation.dead_corner", "urgent")


def test_a_policy_with_a_bad_limit_is_refused() -> None:
    with pytest.raises(ValueError):
        _policy("bad", "normal", reply="seven days")

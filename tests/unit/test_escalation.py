"""The ladder, reminders, extensions and big-issue detection: pure rules, tested directly."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from domain.calendar import WorkingDays
from domain.escalation import big_issue_reason, extension_refusal, next_climb_at, warn_point

WEEKDAYS = WorkingDays()  # November 2026 has no holiday: Monday to Friday
T0 = datetime(2026, 11, 2, 1, 0, tzinfo=UTC)  # Monday 09:00 in Shanghai


def test_the_reminder_goes_out_at_the_policy_share_of_the_limit() -> None:
    assert warn_point(T0, T0 + timedelta(hours=10), 0.8) == T0 + timedelta(hours=8)


def test_a_missed_deadline_climbs_one_step_at_once_then_one_per_period() -> None:
    every = timedelta(hours=4)
    assert [next_climb_at(T0, taken, every) for taken in range(3)] == [
        T0,
        T0 + timedelta(hours=4),
        T0 + timedelta(hours=8),
    ]


def test_an_extension_is_asked_for_before_the_deadline_and_within_the_policy() -> None:
    due = T0 + timedelta(days=2)
    ask = {"current_due": due, "granted": 0, "max_extensions": 1, "max_extension": "10wd"}
    ok = extension_refusal(**ask, requested_due=due + timedelta(days=5), now=T0, calendar=WEEKDAYS)
    assert ok is None
    late = extension_refusal(
        **ask,
        requested_due=due + timedelta(days=5),
        now=due + timedelta(minutes=1),
        calendar=WEEKDAYS,
    )
    assert late and "before the deadline" in late
    earlier = extension_refusal(
        **ask, requested_due=due - timedelta(hours=1), now=T0, calendar=WEEKDAYS
    )
    assert earlier and "later" in earlier
    # 10 working days from Wed 4 Nov 09:00 is Wed 18 Nov 09:00; one minute more is too long.
    too_long = extension_refusal(
        **ask, requested_due=datetime(2026, 11, 18, 1, 1, tzinfo=UTC), now=T0, calendar=WEEKDAYS
    )
    assert too_long and "at most 10wd" in too_long
    used = extension_refusal(
        **{**ask, "granted": 1}, requested_due=due + timedelta(days=1), now=T0, calendar=WEEKDAYS
    )
    assert used and "allows 1" in used


def test_big_issues_are_major_multi_agency_bounced_or_escalated_to_the_subdistrict() -> None:
    small = {
        "severity": "normal",
        "category_needs_linkage": False,
        "returns": 0,
        "returns_for_linkage": 2,
        "escalation_level": 1,
    }
    assert big_issue_reason(**small) is None  # type: ignore[arg-type]
    assert big_issue_reason(**{**small, "severity": "major"}) == "severity is major"  # type: ignore[arg-type]
    assert big_issue_reason(**{**small, "category_needs_linkage": True})  # type: ignore[arg-type]
    assert big_issue_reason(**{**small, "returns": 2}) == "returned 2 times"  # type: ignore[arg-type]
    assert big_issue_reason(**{**small, "escalation_level": 2}) == "escalated to the subdistrict"  # type: ignore[arg-type]

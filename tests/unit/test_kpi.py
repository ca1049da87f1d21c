"""The KPI definitions: rates from counts, periods in local time, the query's bounds, and a
case's facts replayed from its events."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from db.models import RollupCounters
from domain.calendar import SUBDISTRICT_TZ
from domain.case import (
    AcceptInput,
    Action,
    ContactInput,
    Grade,
    RateInput,
    ReassignInput,
    ReplyInput,
    ReturnInput,
)
from domain.kpi import (
    COUNTERS,
    Counts,
    InvalidStatsQuery,
    Rate,
    StatsRow,
    check_group_by,
    counter_sql,
    facts_from_events,
    local_range,
    parse_bound,
    period_key,
    rates,
    total,
)
from domain.permissions import Principal, Role
from tests.unit.stories import DISPATCHER, UNIT, Story


def test_each_rate_keeps_its_numerator_and_denominator() -> None:
    counts = Counts(
        received=10,
        dispatched=9,
        closed=8,
        accepted_on_time=6,
        replied=8,
        replied_on_time=7,
        rated=5,
        satisfied=3,
        basically_satisfied=1,
        unsatisfied=1,
        solved=4,
        unreachable=2,
    )
    assert rates(counts) == {
        "completion": Rate(value=0.8, numerator=8, denominator=10),
        "response": Rate(value=round(6 / 9, 6), numerator=6, denominator=9),
        "on_time": Rate(value=0.875, numerator=7, denominator=8),
        "satisfaction": Rate(value=0.8, numerator=4, denominator=5),
        "resolution": Rate(value=0.8, numerator=4, denominator=5),
        "unreachable": Rate(value=0.25, numerator=2, denominator=8),
    }


def test_a_rate_over_nothing_is_null_not_zero() -> None:
    assert Rate.of(0, 0) == Rate(value=None, numerator=0, denominator=0)
    assert all(r.value is None for r in rates(Counts()).values())


def test_the_total_is_the_sum_of_its_groups() -> None:
    rows = [
        StatsRow.of({"community": "C01"}, Counts(received=3, closed=1)),
        StatsRow.of({"community": "C02"}, Counts(received=1, closed=1)),
    ]
    summed = total(rows)
    assert summed.group == {} and summed.counts == Counts(received=4, closed=2)
    assert summed.rates["completion"] == Rate(value=0.5, numerator=2, denominator=4)


def test_periods_are_counted_in_the_subdistricts_time() -> None:
    late_evening = datetime(2024, 3, 31, 16, 30, tzinfo=UTC)  # 00:30 on April 1st in Qingdao
    assert period_key("day", late_evening) == "2024-04-01"
    assert period_key("month", late_evening) == "2024-04"
    assert period_key("week", late_evening) == "2024-W14"
    assert period_key("week", datetime(2021, 1, 1, tzinfo=SUBDISTRICT_TZ)) == "2020-W53"


def test_date_bounds_include_the_last_day() -> None:
    start, end = local_range(date(2024, 3, 1), date(2024, 3, 31))
    assert start == datetime(2024, 3, 1, tzinfo=SUBDISTRICT_TZ)
    assert end == datetime(2024, 4, 1, tzinfo=SUBDISTRICT_TZ)
    moment = parse_bound("2024-03-05T08:00:00", "from")
    assert moment == datetime(2024, 3, 5, 8, tzinfo=SUBDISTRICT_TZ)


@pytest.mark.parametrize(
    ("start", "end"),
    [
        (date(2024, 3, 2), date(2024, 3, 1)),
        (date(2020, 1, 1), date(2023, 1, 2)),
    ],
)
def test_backwards_or_too_long_periods_are_refused(start: date, end: date) -> None:
    with pytest.raises(InvalidStatsQuery):
        local_range(start, end)


def test_three_years_are_allowed() -> None:
    start, end = local_range(date(2021, 1, 1), date(2023, 12, 31))
    assert end - start == timedelta(days=1095)


def test_group_by_refuses_unknown_keys_and_drops_repeats() -> None:
    assert check_group_by(["month", "community", "month"]) == ["month", "community"]
    with pytest.raises(InvalidStatsQuery) as refused:
        check_group_by(["community", "colour"])
    assert refused.value.details["value"] == ["colour"]
    with pytest.raises(InvalidStatsQuery):
        parse_bound("last tuesday", "to")


def test_an_open_case_late_to_accept_is_overdue_and_not_responded_in_time() -> None:
    story = Story(channel="app")
    story.route(3)
    story.act(180, Action.accept, AcceptInput())
    facts = facts_from_events(story.events)
    counts = facts.counts()
    assert (facts.channel, facts.unit, counts.dispatched) == ("app", UNIT, 1)
    assert (counts.overdue, counts.escalated, counts.accepted_on_time) == (1, 1, 0)
    assert (counts.received, counts.open, counts.closed, counts.accepted_on_time) == (1, 1, 0, 0)


def test_a_reassigned_case_gets_fresh_clocks_and_its_last_unit() -> None:
    story = Story()
    story.route(3)
    story.act(30, Action.return_, ReturnInput(reason="不属于本单位"))
    story.act(60, Action.reassign, ReassignInput(unit="CO-C01"), DISPATCHER)
    committee = Principal(subject="li", role=Role.unit_handler, unit="CO-C01")
    story.act(70, Action.accept, AcceptInput(), committee)
    story.act(80, Action.contact, ContactInput(note="已联系"), committee)
    story.act(600, Action.reply, ReplyInput(result="已处理"), committee)
    facts = facts_from_events(story.events)
    counts = facts.counts()
    assert (facts.unit, counts.returned) == ("CO-C01", 1)
    assert (counts.accepted_on_time, counts.replied, counts.replied_on_time) == (1, 1, 1)


def test_a_closed_case_counts_its_rating_and_a_late_reply() -> None:
    story = Story()
    story.route(3)
    story.act(10, Action.accept, AcceptInput())
    story.act(20, Action.contact, ContactInput(note="已联系"))
    # Two hours past the 7 working days (one rung up; a second would make it a linkage).
    story.act(60 * 24 * 9 + 120, Action.reply, ReplyInput(result="已处理"))
    rating = RateInput(grade=Grade.basically_satisfied, solved=True)
    story.act(60 * 24 * 10, Action.rate, rating, DISPATCHER)
    counts = facts_from_events(story.events).counts()
    assert (counts.closed, counts.rated, counts.basically_satisfied, counts.solved) == (1, 1, 1, 1)
    assert (counts.accepted_on_time, counts.replied, counts.replied_on_time) == (1, 1, 0)


def test_the_rollups_keep_one_column_per_counter_and_render_it_as_sql() -> None:
    assert set(RollupCounters.__annotations__) == set(COUNTERS)
    assert counter_sql("received", "c") == "TRUE"
    assert counter_sql("solved", "c") == (
        "c.grade IN ('satisfied', 'basically_satisfied', 'unsatisfied') AND c.solved IS TRUE"
    )
    assert counter_sql("escalated", "OLD") == "OLD.escalation_level > 0"

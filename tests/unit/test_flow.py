"""Flow analytics replayed from events: stays per state, hand-offs, breaches, backlog ageing in
working days (National Day week 2026 and its adjusted working days included)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

import pytest

from domain.calendar import SUBDISTRICT_TZ, WorkingDays
from domain.case import (
    AcceptInput,
    Action,
    ContactInput,
    Grade,
    RateInput,
    ReassignInput,
    ReopenInput,
    ReplyInput,
    ResumeInput,
    ReturnInput,
    SuspendInput,
    VerifyInput,
)
from domain.flow import (
    CaseHistory,
    ageing_bucket,
    flow_report,
    percentile,
    stays,
    working_days_between,
)
from domain.permissions import Principal, Role
from domain.state import replay
from tests.unit.stories import DISPATCHER, SUPERVISOR, UNIT, Story

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=SUBDISTRICT_TZ)  # a Monday
WORKER = Principal(subject="ge", role=Role.grid_worker, grids=("C01-G01",))


@dataclass
class Event:
    type: str
    at: datetime
    data: dict[str, Any] = field(default_factory=dict)


# National Day 2026: 1-7 October off (3 and 4 are a weekend), Saturday 10 October worked.
NATIONAL_DAY = WorkingDays(
    first=date(2026, 9, 28),
    last=date(2026, 12, 31),
    off=tuple(date(2026, 10, d) for d in (1, 2, 5, 6, 7)),
    on=(date(2026, 10, 10),),
)


def h(hours: float) -> datetime:
    return T0 + timedelta(hours=hours)


def returned_then_closed() -> list[Event]:
    return [
        Event("received", h(0), {"channel": "hotline"}),
        Event("dispatched", h(0.5), {"unit": "GT-C01-G02"}),
        Event("return", h(1.5), {"unit": "GT-C01-G02"}),
        Event("reassign", h(2.5), {"unit": "CO-C01"}),
        Event("deadline_missed", h(4.5), {"deadline": "accept"}),
        Event("accept", h(5.5), {"unit": "CO-C01"}),
        Event("contact", h(6)),  # no change of state
        Event("suspend", h(8.5)),
        Event("resume", h(10.5)),
        Event("reply", h(20.5), {"unit": "CO-C01"}),
        Event("rate", h(30.5), {"grade": "satisfied"}),
        Event("closed", h(30.5), {"outcome": "rated"}),
    ]


def test_a_case_stays_in_each_state_with_the_unit_that_held_it() -> None:
    got = [(s.state, s.unit, s.entered_at, s.left_at) for s in stays(returned_then_closed())]
    assert got == [
        ("received", None, h(0), h(0.5)),
        ("dispatched", "GT-C01-G02", h(0.5), h(1.5)),
        ("returned", "GT-C01-G02", h(1.5), h(2.5)),
        ("dispatched", "CO-C01", h(2.5), h(5.5)),
        ("in_progress", "CO-C01", h(5.5), h(8.5)),
        ("suspended", "CO-C01", h(8.5), h(10.5)),
        ("in_progress", "CO-C01", h(10.5), h(20.5)),
        ("replied", "CO-C01", h(20.5), h(30.5)),
    ]


def test_a_grid_events_reply_waits_for_the_on_site_check_and_a_failed_check_goes_back() -> None:
    events = [
        Event("received", h(0), {"channel": "grid_patrol"}),
        Event("dispatched", h(0), {"unit": "UT-WATER"}),
        Event("accept", h(1), {"unit": "UT-WATER"}),
        Event("reply", h(2), {"due": {"verify": h(26).isoformat()}}),  # as the model records it
        Event("verify", h(3), {"fixed": False}),
        Event("reply", h(5), {"due": {"verify": h(29).isoformat()}}),
    ]
    assert [s.state for s in stays(events)] == [
        "received",
        "dispatched",
        "in_progress",
        "verifying",
        "in_progress",
        "verifying",
    ]
    assert stays(events)[-1].left_at is None  # still open


def test_working_days_skip_weekends_holidays_and_count_adjusted_working_days() -> None:
    friday_noon = datetime(2026, 11, 6, 12, tzinfo=SUBDISTRICT_TZ)
    monday_noon = datetime(2026, 11, 9, 12, tzinfo=SUBDISTRICT_TZ)
    assert working_days_between(friday_noon, monday_noon, NATIONAL_DAY) == pytest.approx(1.0)
    # National Day 2026: 1-7 October off, Saturday 10 October worked (调休).
    before = datetime(2026, 9, 30, 0, tzinfo=SUBDISTRICT_TZ)
    after = datetime(2026, 10, 11, 0, tzinfo=SUBDISTRICT_TZ)
    assert working_days_between(before, after, NATIONAL_DAY) == pytest.approx(
        4.0
    )  # 30 Sep, 8, 9, 10 Oct


@pytest.mark.parametrize(
    ("days", "bucket"),
    [(0, "0-1"), (0.99, "0-1"), (1, "1-3"), (2.5, "1-3"), (3, "3-7"), (7, "7-15"), (15, "over 15")],
)
def test_backlog_buckets_are_half_open(days: float, bucket: str) -> None:
    assert ageing_bucket(days) == bucket


def test_percentiles_interpolate_between_ranks() -> None:
    assert percentile([4.0, 1.0, 3.0, 2.0], 0.5) == 2.5
    assert percentile([float(n) for n in range(1, 11)], 0.9) == pytest.approx(9.1)
    assert percentile([7.0], 0.9) == 7.0


def test_the_report_groups_stays_ages_the_backlog_and_counts_handoffs_and_breaches() -> None:
    still_open = [
        Event("received", h(0), {"channel": "app"}),
        Event("dispatched", h(1), {"unit": "CO-C01"}),
        Event("accept", h(3), {"unit": "CO-C01"}),
    ]
    other_grid = [
        Event("received", h(0), {"channel": "app"}),
        Event("dispatched", h(0.5), {"unit": "GT-C02-G01"}),
        Event("deadline_missed", h(2.5), {"deadline": "accept"}),
        Event("deadline_missed", h(30.5), {"deadline": "reply"}),
        Event("reject", h(31)),
        Event("closed", h(31), {"outcome": "rejected"}),
    ]
    report = flow_report(
        [
            CaseHistory("A", "sanitation.dead_corner", "C01-G02", "C01", returned_then_closed()),
            CaseHistory("B", "sanitation.dead_corner", "C01-G02", "C01", still_open),
            CaseHistory("C", "public_order.flyers", "C02-G01", "C02", other_grid),
        ],
        as_of=T0 + timedelta(days=4),
        calendar=NATIONAL_DAY,  # Friday 09:00: B has been open 4 working days
    )
    assert report.cases == 3
    rows = {(r.unit, r.category, r.state): r for r in report.time_in_state}
    dispatched = rows[("CO-C01", "sanitation.dead_corner", "dispatched")]
    assert (dispatched.stays, dispatched.p50_hours, dispatched.p90_hours) == (2, 2.5, 2.9)
    in_progress = rows[("CO-C01", "sanitation.dead_corner", "in_progress")]
    # A's 3 h and 10 h; B's stay is still open, so it is not counted yet.
    assert (in_progress.stays, in_progress.p50_hours, in_progress.p90_hours) == (2, 6.5, 9.3)
    assert rows[("GT-C02-G01", "public_order.flyers", "dispatched")].p50_hours == 30.5
    assert [(b.unit, b.bucket, b.cases) for b in report.backlog] == [("CO-C01", "3-7", 1)]
    assert report.backlog_total == {"0-1": 0, "1-3": 0, "3-7": 1, "7-15": 0, "over 15": 0}
    assert [(c.category, c.cases, c.handoffs) for c in report.handoffs] == [
        ("public_order.flyers", 1, 0),
        ("sanitation.dead_corner", 2, 2),
    ]
    assert report.handoffs_per_case == round(2 / 3, 3)
    assert [(g.grid, g.cases, g.breached_cases, g.breaches) for g in report.breaches] == [
        ("C01-G02", 2, 1, 1),
        ("C02-G01", 1, 1, 2),
    ]


def _model_states(events: list[Any]) -> list[str]:
    """What the lifecycle model's own fold (`replay`) says after each event, waits shown."""
    states: list[str] = []
    for n in range(1, len(events) + 1):
        state = replay(events[:n])
        shown = (
            "suspended"
            if state.suspended_at is not None
            else "review"
            if state.review == "pending"
            else state.status.value
        )
        if not states or states[-1] != shown:
            states.append(shown)
    return states


def _flow_states(events: list[Any]) -> list[str]:
    states: list[str] = []
    for stay in stays(events):
        if not states or states[-1] != stay.state:
            states.append(stay.state)
    return states


def test_the_flow_reads_the_states_the_model_replays() -> None:
    bounced = Story()
    bounced.route(3)
    bounced.act(30, Action.return_, ReturnInput(reason="不属于本单位"))
    bounced.act(60, Action.reassign, ReassignInput(unit=UNIT), DISPATCHER)
    bounced.act(70, Action.accept, AcceptInput())
    bounced.act(80, Action.suspend, SuspendInput(reason="等待鉴定"))
    bounced.act(200, Action.resume, ResumeInput())
    bounced.act(210, Action.contact, ContactInput(note="已联系"))
    bounced.act(220, Action.reply, ReplyInput(result="已处理"))
    bounced.act(300, Action.rate, RateInput(grade=Grade.unsatisfied), DISPATCHER)
    bounced.act(400, Action.reply, ReplyInput(result="再次处理"))
    bounced.act(500, Action.rate, RateInput(grade=Grade.unsatisfied), DISPATCHER)
    bounced.act(600, Action.reopen, ReopenInput(reason="重办"), SUPERVISOR)

    patrol = Story(channel="grid_patrol", photo_url="https://example.org/a.jpg")
    patrol.route(3)
    patrol.act(10, Action.accept, AcceptInput())
    patrol.act(20, Action.contact, ContactInput(note="已联系"))
    patrol.act(30, Action.reply, ReplyInput(result="已处理"))
    patrol.act(40, Action.verify, VerifyInput(fixed=False), WORKER)
    patrol.act(50, Action.reply, ReplyInput(result="再次处理"))
    patrol.act(60, Action.verify, VerifyInput(fixed=True), WORKER)

    assert (
        _flow_states(bounced.events)
        == _model_states(bounced.events)
        == [
            "received",
            "dispatched",
            "returned",
            "dispatched",
            "in_progress",
            "suspended",
            "in_progress",
            "replied",
            "in_progress",
            "replied",
            "review",
            "in_progress",
        ]
    )
    # The flow keeps no stay for `closed`; the model ends there.
    assert (
        [*_flow_states(patrol.events), "closed"]
        == _model_states(patrol.events)
        == [
            "received",
            "dispatched",
            "in_progress",
            "verifying",
            "in_progress",
            "verifying",
            "closed",
        ]
    )

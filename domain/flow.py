"""Flow analytics: where cases spend their time, how old the open backlog is, how often a case
changes hands and where deadlines are missed, all replayed from each case's event log (so the
figures read the same for a case past Temporal's retention).

A case's flow state is its status, with two waits the status hides made visible: `suspended`
(the clock stopped) and `review` (a supervisor decides). The status comes from the lifecycle
model's own table (`domain.state.status_after`), folded lightly instead of through
`domain.state.replay`: rebuilding a case's whole state (intake, routing, deadlines) costs
several times as much (`python -m bench.governance` measures /v1/flow against the KPI counts
replayed from the same events; README, flow analytics), and the flow needs only the status and
the unit.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import Any

from pydantic import BaseModel

from domain.calendar import SUBDISTRICT_TZ, WorkingDays
from domain.case import Action, CaseStatus, EventType
from domain.state import TimedEvent, status_after

# The waits the status hides: entered by these events, left at the next change of status or by
# the events that end them.
WAITS: dict[str, str] = {Action.suspend: "suspended", EventType.review_opened: "review"}
WAIT_ENDS: set[str] = {Action.resume, EventType.auto_resumed}
# A hand-off: the case leaves its unit (back to the dispatcher, to another unit, or taken over
# by a rung of the ladder, which is recorded as a reassign), or a routing ruling names its unit.
HANDOFFS = (Action.return_, Action.reassign, Action.rule_on_return)
# Events that put a case with a unit (and name it).
TO_A_UNIT = (EventType.dispatched, Action.reassign, Action.rule_on_return)

# Ageing of the open backlog in working days: [low, high) with its label.
AGEING_BUCKETS: tuple[tuple[float, float | None, str], ...] = (
    (0, 1, "0-1"),
    (1, 3, "1-3"),
    (3, 7, "3-7"),
    (7, 15, "7-15"),
    (15, None, "over 15"),
)


@dataclass(frozen=True)
class CaseHistory:
    """One case's events (in seq order) and the place facts fixed at intake."""

    case_id: str
    category: str
    grid: str | None
    community: str | None
    events: Sequence[TimedEvent]


@dataclass(slots=True)
class Stay:
    """A case in one state, with one unit, from `entered_at` until `left_at` (None: still)."""

    state: str
    unit: str | None
    entered_at: datetime
    left_at: datetime | None


def stays(events: Sequence[TimedEvent]) -> list[Stay]:
    """The case's stays, in order; the last one is open unless the case is closed."""
    result: list[Stay] = []
    status, wait, unit = CaseStatus.received, None, None
    for event in events:
        data = event.data or {}
        following = status_after(event.type, data, status)
        if following != status or event.type in WAIT_ENDS:
            wait = None
        wait = WAITS.get(event.type, wait)
        if event.type in TO_A_UNIT:
            unit = data.get("unit", unit)
        state = wait or following.value
        if result and state == result[-1].state and event.type not in TO_A_UNIT:
            status = following
            continue
        if result and result[-1].left_at is None:
            result[-1].left_at = event.at
        if following is not CaseStatus.closed:
            result.append(Stay(state, unit, event.at, None))
        status = following
    return result


def handoffs(events: Iterable[TimedEvent]) -> int:
    return sum(1 for e in events if e.type in HANDOFFS)


def handed_off_by(events: Iterable[TimedEvent]) -> list[str | None]:
    """Who held the case at each hand-off: the unit that returned it or lost it, None for the
    dispatcher (a returned case sent on)."""
    units: list[str | None] = []
    unit: str | None = None
    for event in events:
        if event.type in HANDOFFS:
            units.append(unit)
        if event.type in TO_A_UNIT:
            unit = (event.data or {}).get("unit", unit)
        elif event.type in ("return", "route_failed"):
            unit = None
    return units


def breaches(events: Iterable[TimedEvent]) -> int:
    return sum(1 for e in events if e.type == EventType.deadline_missed)


def working_days_between(start: datetime, end: datetime, calendar: WorkingDays) -> float:
    """Working days elapsed from `start` to `end` (local days; rest days and holidays count 0)."""
    start, end = start.astimezone(SUBDISTRICT_TZ), end.astimezone(SUBDISTRICT_TZ)
    total, day = 0.0, start.date()
    while day <= end.date():
        if calendar.is_working_day(day):
            midnight = datetime.combine(day, time(), SUBDISTRICT_TZ)
            low, high = max(start, midnight), min(end, midnight + timedelta(days=1))
            if high > low:
                total += (high - low) / timedelta(days=1)
        day += timedelta(days=1)
    return total


def ageing_bucket(working_days: float) -> str:
    for low, high, label in AGEING_BUCKETS:
        if working_days >= low and (high is None or working_days < high):
            return label
    raise ValueError(f"negative age {working_days}")


def percentile(values: Sequence[float], share: float) -> float:
    """Linear interpolation between the closest ranks (numpy's default)."""
    ordered = sorted(values)
    position = share * (len(ordered) - 1)
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


# ---- the report --------------------------------------------------------------------------------


class StateTime(BaseModel):
    """Hours spent in one state by the cases of a unit and category (finished stays only)."""

    unit: str | None
    category: str
    state: str
    stays: int
    p50_hours: float
    p90_hours: float


class BacklogAge(BaseModel):
    unit: str | None
    bucket: str
    cases: int


class CategoryHandoffs(BaseModel):
    category: str
    cases: int
    handoffs: int
    per_case: float


class UnitHandoffs(BaseModel):
    unit: str | None  # the unit that returned or lost the case (None: the dispatcher)
    handoffs: int


class GridBreaches(BaseModel):
    grid: str | None
    community: str | None
    cases: int
    breached_cases: int  # cases with at least one deadline missed
    breaches: int  # deadlines missed


class FlowReport(BaseModel):
    as_of: datetime
    cases: int
    time_in_state: list[StateTime]
    backlog: list[BacklogAge]
    backlog_total: dict[str, int]
    handoffs: list[CategoryHandoffs]
    handoffs_per_case: float | None
    handoffs_by_unit: list[UnitHandoffs]
    breaches: list[GridBreaches]


def _key(value: tuple[Any, ...]) -> tuple[Any, ...]:
    return tuple((v is None, v or "") for v in value)


def flow_report(cases: Iterable[CaseHistory], as_of: datetime, calendar: WorkingDays) -> FlowReport:
    durations: dict[tuple[str | None, str, str], list[float]] = defaultdict(list)
    backlog: dict[tuple[str | None, str], int] = defaultdict(int)
    handed: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    handed_by: dict[str | None, int] = defaultdict(int)
    breached: dict[tuple[str | None, str | None], list[int]] = defaultdict(lambda: [0, 0, 0])
    count = 0
    for case in cases:
        count += 1
        case_stays = stays(case.events)
        for stay in case_stays:
            if stay.left_at is not None:
                hours = (stay.left_at - stay.entered_at) / timedelta(hours=1)
                durations[(stay.unit, case.category, stay.state)].append(hours)
        if case_stays and case_stays[-1].left_at is None:  # still open
            received = case.events[0].at
            age = ageing_bucket(working_days_between(received, max(as_of, received), calendar))
            backlog[(case_stays[-1].unit, age)] += 1
        handed[case.category][0] += 1
        handed[case.category][1] += handoffs(case.events)
        for unit in handed_off_by(case.events):
            handed_by[unit] += 1
        missed = breaches(case.events)
        place = breached[(case.grid, case.community)]
        place[0] += 1
        place[1] += int(missed > 0)
        place[2] += missed
    labels = [label for _, _, label in AGEING_BUCKETS]
    total_handoffs = sum(h for _, h in handed.values())
    by_group = sorted(durations.items(), key=lambda i: _key(i[0]))
    return FlowReport(
        as_of=as_of,
        cases=count,
        time_in_state=[
            StateTime(
                unit=unit,
                category=category,
                state=state,
                stays=len(hours),
                p50_hours=round(percentile(hours, 0.5), 2),
                p90_hours=round(percentile(hours, 0.9), 2),
            )
            for (unit, category, state), hours in by_group
        ],
        backlog=[
            BacklogAge(unit=unit, bucket=bucket, cases=n)
            for (unit, bucket), n in sorted(
                backlog.items(), key=lambda i: (_key(i[0][:1]), labels.index(i[0][1]))
            )
        ],
        backlog_total={
            label: sum(n for (_, b), n in backlog.items() if b == label) for label in labels
        },
        handoffs=[
            CategoryHandoffs(category=c, cases=n, handoffs=h, per_case=round(h / n, 3))
            for c, (n, h) in sorted(handed.items())
        ],
        handoffs_per_case=round(total_handoffs / count, 3) if count else None,
        handoffs_by_unit=[
            UnitHandoffs(unit=unit, handoffs=n)
            for unit, n in sorted(handed_by.items(), key=lambda i: _key(i[:1]))
        ],
        breaches=[
            GridBreaches(grid=grid, community=community, cases=n, breached_cases=b, breaches=m)
            for (grid, community), (n, b, m) in sorted(breached.items(), key=lambda i: _key(i[0]))
            if m
        ],
    )

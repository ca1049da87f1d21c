"""The figures that matter (DOMAIN.md): counts per group of cases and the five rates built from
them, each with its numerator and denominator so anyone can check it by hand.

    completion   办结率    closed / received
    response     响应率    accept deadline met on time / dispatched
    on_time      按时办结率 reply deadline met on time / replied
    satisfaction 满意率    (satisfied + basically satisfied) / rated
    resolution   解决率    said solved / rated
    unreachable  回访不通率 closed unreachable (the return visit never reached them) / replied

A case belongs to the period in which it was received (Asia/Shanghai). Its facts come either from
its record row (db.stats.case_stats) or from its event log alone (facts_from_events, a fold of the
lifecycle model): both must give the same counts.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime, time, timedelta
from typing import Any

from pydantic import BaseModel, ConfigDict

from domain.calendar import SUBDISTRICT_TZ
from domain.sla import DeadlineKind
from domain.state import CaseState, EventLike, replay

PLACE_KEYS = ("community", "grid", "unit", "category", "channel")
PERIOD_KEYS = ("day", "week", "month")
GROUP_KEYS = PLACE_KEYS + PERIOD_KEYS
GRADES = ("satisfied", "basically_satisfied", "unsatisfied")
LONGEST_RANGE = timedelta(days=3 * 365 + 1)  # three years, one of them a leap year


class InvalidStatsQuery(ValueError):
    """A period or grouping the statistics cannot be asked for."""

    def __init__(self, message: str, details: dict[str, Any]) -> None:
        super().__init__(message)
        self.details = details


class Counts(BaseModel):
    """How many cases of a group are in each state; the rates' numerators and denominators."""

    model_config = ConfigDict(frozen=True)

    received: int = 0
    dispatched: int = 0
    closed: int = 0
    open: int = 0
    overdue: int = 0
    escalated: int = 0
    linked: int = 0
    returned: int = 0
    rejected: int = 0
    unrated: int = 0
    unreachable: int = 0
    rated: int = 0
    satisfied: int = 0
    basically_satisfied: int = 0
    unsatisfied: int = 0
    solved: int = 0
    accepted_on_time: int = 0
    replied: int = 0
    replied_on_time: int = 0

    def __add__(self, other: Counts) -> Counts:
        return Counts(**{k: getattr(self, k) + getattr(other, k) for k in Counts.model_fields})


COUNT_KEYS = tuple(Counts.model_fields)


class Rate(BaseModel):
    model_config = ConfigDict(frozen=True)

    value: float | None  # None when nothing is in the denominator
    numerator: int
    denominator: int

    @classmethod
    def of(cls, numerator: int, denominator: int) -> Rate:
        value = round(numerator / denominator, 6) if denominator else None
        return cls(value=value, numerator=numerator, denominator=denominator)


RATE_KEYS = ("completion", "response", "on_time", "satisfaction", "resolution", "unreachable")


def rates(counts: Counts) -> dict[str, Rate]:
    c = counts
    return {
        "completion": Rate.of(c.closed, c.received),
        "response": Rate.of(c.accepted_on_time, c.dispatched),
        "on_time": Rate.of(c.replied_on_time, c.replied),
        "satisfaction": Rate.of(c.satisfied + c.basically_satisfied, c.rated),
        "resolution": Rate.of(c.solved, c.rated),
        "unreachable": Rate.of(c.unreachable, c.replied),
    }


class StatsRow(BaseModel):
    """One group (e.g. {"community": "C03", "month": "2024-03"}) with its counts and rates."""

    group: dict[str, str | None]
    counts: Counts
    rates: dict[str, Rate]

    @classmethod
    def of(cls, group: Mapping[str, str | None], counts: Counts) -> StatsRow:
        return cls(group=dict(group), counts=counts, rates=rates(counts))


def total(rows: Iterable[StatsRow]) -> StatsRow:
    """The groups partition the cases, so the whole period is the sum of its groups."""
    summed = sum((r.counts for r in rows), Counts())
    return StatsRow.of({}, summed)


# ---- periods ----------------------------------------------------------------------------------


def period_key(kind: str, at: datetime) -> str:
    """The day (2024-03-05), ISO week (2024-W10) or month (2024-03) of `at` in local time."""
    local = at.astimezone(SUBDISTRICT_TZ)
    if kind == "day":
        return local.strftime("%Y-%m-%d")
    if kind == "week":
        year, week, _ = local.isocalendar()
        return f"{year}-W{week:02d}"
    if kind == "month":
        return local.strftime("%Y-%m")
    raise ValueError(f"not a period: {kind}")


def check_group_by(group_by: Sequence[str]) -> list[str]:
    """The grouping keys in order, each once; unknown keys are refused."""
    unknown = [k for k in group_by if k not in GROUP_KEYS]
    if unknown:
        raise InvalidStatsQuery(
            f"cannot group by {', '.join(unknown)}",
            {"field": "group_by", "value": unknown, "allowed": list(GROUP_KEYS)},
        )
    return list(dict.fromkeys(group_by))


def parse_bound(text: str, field: str) -> date | datetime:
    """A local date (2024-03-01) or an ISO datetime (naive means local time)."""
    try:
        return date.fromisoformat(text)
    except ValueError:
        pass
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise InvalidStatsQuery(
            f"{field} is neither a date (YYYY-MM-DD) nor an ISO datetime",
            {"field": field, "value": text},
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=SUBDISTRICT_TZ)


def local_range(start: date | datetime, end: date | datetime) -> tuple[datetime, datetime]:
    """[start, end) as aware instants. Dates are local days and `end` is included (to=03-31 means
    up to the end of March 31st); a datetime is an exact instant and `end` is excluded."""
    begin = (
        start
        if isinstance(start, datetime)
        else datetime.combine(start, time(), tzinfo=SUBDISTRICT_TZ)
    )
    stop = (
        end
        if isinstance(end, datetime)
        else datetime.combine(end + timedelta(days=1), time(), tzinfo=SUBDISTRICT_TZ)
    )
    if begin >= stop:
        raise InvalidStatsQuery(
            "from must be before to", {"from": begin.isoformat(), "to": stop.isoformat()}
        )
    if stop - begin > LONGEST_RANGE:
        raise InvalidStatsQuery(
            "the period is longer than 3 years",
            {"from": begin.isoformat(), "to": stop.isoformat(), "longest_days": LONGEST_RANGE.days},
        )
    return begin, stop


# ---- a case's facts, from its event log -------------------------------------------------------


class CaseFacts(BaseModel):
    """What the KPIs need to know about one case."""

    received_at: datetime
    channel: str | None = None
    unit: str | None = None
    dispatched: bool = False
    closed: bool = False
    outcome: str | None = None
    overdue: bool = False
    escalated: bool = False
    linked: bool = False
    returned: bool = False
    grade: str | None = None
    solved: bool | None = None
    accepted_on_time: bool = False
    replied: bool = False
    replied_on_time: bool = False

    def counts(self) -> Counts:
        rated = self.grade in GRADES
        return Counts(
            received=1,
            dispatched=int(self.dispatched),
            closed=int(self.closed),
            open=int(not self.closed),
            overdue=int(self.overdue),
            escalated=int(self.escalated),
            linked=int(self.linked),
            returned=int(self.returned),
            rejected=int(self.outcome == "rejected"),
            unrated=int(self.outcome == "unrated"),
            unreachable=int(self.outcome == "unreachable"),
            rated=int(rated),
            satisfied=int(self.grade == "satisfied"),
            basically_satisfied=int(self.grade == "basically_satisfied"),
            unsatisfied=int(self.grade == "unsatisfied"),
            solved=int(rated and self.solved is True),
            accepted_on_time=int(self.dispatched and self.accepted_on_time),
            replied=int(self.replied),
            replied_on_time=int(self.replied and self.replied_on_time),
        )


def facts_from_events(events: Sequence[EventLike]) -> CaseFacts:
    """Replay one case's events (in seq order) through the lifecycle model into its facts."""
    return facts_of(replay(events))


def facts_of(state: CaseState) -> CaseFacts:
    """The facts of a case's state, read the way the counters read its record row (migration
    0005's `_counters`): a deadline is met on time when it was met by its due time."""

    def on_time(kind: DeadlineKind) -> bool:
        d = state.deadlines.get(kind)
        return d is not None and d.met_at is not None and d.met_at <= d.due_at

    return CaseFacts(
        received_at=state.received_at,
        channel=state.intake.channel.value,
        unit=state.unit,
        dispatched=state.dispatched_at is not None,
        closed=state.outcome is not None,
        outcome=state.outcome.value if state.outcome else None,
        overdue=state.overdue,
        escalated=state.escalation_level > 0,
        linked=state.linkage is not None,
        returned=state.returns > 0,
        grade=state.grade.value if state.grade else None,
        solved=state.solved,
        accepted_on_time=on_time(DeadlineKind.accept),
        replied=state.replied_at is not None,
        replied_on_time=on_time(DeadlineKind.reply),
    )


def group_of(facts: CaseFacts, row: Mapping[str, Any], group_by: Sequence[str]) -> dict[str, Any]:
    """The group of one case: periods and channel/unit from its facts, the rest from `row`."""
    group: dict[str, Any] = {}
    for key in group_by:
        if key in PERIOD_KEYS:
            group[key] = period_key(key, facts.received_at)
        elif key in ("channel", "unit"):
            group[key] = getattr(facts, key)
        else:
            group[key] = row.get(key)
    return group

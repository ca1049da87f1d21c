"""The figures that matter (docs/domain.md): counts per group of cases and the five rates built from
them, each with its numerator and denominator so anyone can check it by hand.

    completion   办结率    closed / received
    response     响应率    accept deadline met on time / dispatched
    on_time      按时办结率 reply deadline met on time / replied
    satisfaction 满意率    (satisfied + basically satisfied) / rated
    resolution   解决率    said solved / rated
    unreachable  回访不通率 closed unreachable (the return visit never reached them) / replied

Beside the rates' parts, two counts: cases `reopened` (sent back to their unit, from a supervisor's
review or by the resident after closure) and cases `handed_off` (returned or reassigned at least
once; how many times per case and per unit is the flow's, domain/flow.py).

A case belongs to the period in which it was received (Asia/Shanghai). Each counter is defined
once, in `COUNTERS`: a condition over the case row. The same definition is read three ways: as SQL
by the rollup triggers (db/rollup.py; each migration that adds a counter rebuilds them) and the
statistics over the rows (db/stats.py), and in Python over the row a case's event log replays
to (facts_from_events, a fold of the lifecycle model): all three must give the same counts.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from domain.calendar import SUBDISTRICT_TZ
from domain.case import CaseView
from domain.state import CaseState, EventLike, replay
from domain.view import view

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
    assisted: int = 0  # 协办: assisting units brought in by the lead unit
    returned: int = 0
    rejected: int = 0
    unrated: int = 0
    unreachable: int = 0
    split: int = 0  # 拆分 into child cases (each child counts as a case of its own)
    rated: int = 0
    satisfied: int = 0
    basically_satisfied: int = 0
    unsatisfied: int = 0
    solved: int = 0
    accepted_on_time: int = 0
    replied: int = 0
    replied_on_time: int = 0
    reopened: int = 0
    handed_off: int = 0

    def __add__(self, other: Counts) -> Counts:
        return Counts(**{k: getattr(self, k) + getattr(other, k) for k in Counts.model_fields})


COUNT_KEYS = tuple(Counts.model_fields)


# ---- the counters: one definition, read as SQL and in Python ------------------------------------


@dataclass(frozen=True)
class Is:
    """One condition on a column of the case row: set (not null), true, equal to, more than, one
    of, or (for `deadlines`) the deadline of that kind met by its due time."""

    column: str
    test: Literal["set", "true", "=", ">", "in", "met_on_time"]
    value: Any = None

    def sql(self, row: str) -> str:
        """As a PostgreSQL condition on the case row named `row`."""
        column = f"{row}.{self.column}"
        if self.test == "set":
            return f"{column} IS NOT NULL"
        if self.test == "true":
            return f"{column} IS TRUE"
        if self.test == "=":
            return f"{column} = '{self.value}'"
        if self.test == ">":
            return f"{column} > {int(self.value)}"
        if self.test == "in":
            return f"{column} IN ({', '.join(repr(str(v)) for v in self.value)})"
        return (
            f"EXISTS (SELECT 1 FROM jsonb_array_elements({column}) AS d "
            f"WHERE d->>'kind' = '{self.value}' AND d->>'met_at' IS NOT NULL "
            "AND (d->>'met_at')::timestamptz <= (d->>'due_at')::timestamptz)"
        )

    def holds(self, case: CaseView) -> bool:
        """On the case the row is written from (db.cases.row_of)."""
        value = getattr(case, self.column)
        if self.test == "set":
            return value is not None
        if self.test == "true":
            return value is True
        if self.test == "=":
            return bool(value == self.value)
        if self.test == ">":
            return bool(value > self.value)
        if self.test == "in":
            return value in self.value
        return any(
            d.kind == self.value and d.met_at is not None and d.met_at <= d.due_at for d in value
        )


_RATED = Is("grade", "in", GRADES)
# Counter -> the conditions under which one case adds 1 to it (all of them; none: every case).
# `open` is not kept: it is received - closed.
COUNTERS: dict[str, tuple[Is, ...]] = {
    "received": (),
    "dispatched": (Is("dispatched_at", "set"),),
    "closed": (Is("status", "=", "closed"),),
    "overdue": (Is("overdue", "true"),),
    "escalated": (Is("escalation_level", ">", 0),),
    "linked": (Is("linkage", "set"),),
    "assisted": (Is("assists", ">", 0),),
    "returned": (Is("returns", ">", 0),),
    "rejected": (Is("outcome", "=", "rejected"),),
    "unrated": (Is("outcome", "=", "unrated"),),
    "unreachable": (Is("outcome", "=", "unreachable"),),
    "split": (Is("outcome", "=", "split"),),
    "rated": (_RATED,),
    "satisfied": (Is("grade", "=", "satisfied"),),
    "basically_satisfied": (Is("grade", "=", "basically_satisfied"),),
    "unsatisfied": (Is("grade", "=", "unsatisfied"),),
    "solved": (_RATED, Is("solved", "true")),
    "accepted_on_time": (Is("dispatched_at", "set"), Is("deadlines", "met_on_time", "accept")),
    "replied": (Is("replied_at", "set"),),
    "replied_on_time": (Is("replied_at", "set"), Is("deadlines", "met_on_time", "reply")),
    "reopened": (Is("reopens", ">", 0),),
    "handed_off": (Is("handoffs", ">", 0),),
}
assert set(COUNT_KEYS) == {*COUNTERS, "open"}, "Counts and COUNTERS name the same counters"


def counter_sql(name: str, row: str) -> str:
    """Counter `name` as a PostgreSQL condition on the case row named `row`."""
    return " AND ".join(c.sql(row) for c in COUNTERS[name]) or "TRUE"


def counts_of(case: CaseView) -> Counts:
    """What one case adds to each counter."""
    counted = {k: int(all(c.holds(case) for c in conditions)) for k, conditions in COUNTERS.items()}
    return Counts(**counted, open=counted["received"] - counted["closed"])


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
    """What the KPIs need to know about one case: when and how it came, who holds it, what it
    counts."""

    received_at: datetime
    channel: str
    unit: str | None = None
    outcome: str | None = None
    counted: Counts
    exempted: bool = False  # 核减 on appeal: out of the unit's score (domain/score.py)

    def counts(self) -> Counts:
        return self.counted


def facts_from_events(events: Sequence[EventLike]) -> CaseFacts:
    """Replay one case's events (in seq order) through the lifecycle model into its facts."""
    return facts_of(replay(events))


def facts_of(state: CaseState) -> CaseFacts:
    """The facts of a case's state, counted on the row it would write (`COUNTERS`)."""
    return CaseFacts(
        received_at=state.received_at,
        channel=state.intake.channel.value,
        unit=state.unit,
        outcome=state.outcome.value if state.outcome else None,
        counted=counts_of(view(state, [])),
        exempted=state.exemption is not None,
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

"""Demo HISTORY for the KPIs and their benchmark: realistic past cases written straight into
`cases` and `case_events` (no workflows run; an open generated case has no workflow behind it,
so its actions do nothing). Ids are GEN-YYYY-NNNNNN (never a live LC- id), numbers come from
case_number_seq. Never commits."""

from __future__ import annotations

import contextlib
import json
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import (
    Case,
    Category,
    Community,
    EscalationLevel,
    Grid,
    RoutingRuleRow,
    SlaPolicyRow,
    Unit,
)
from domain.calendar import SUBDISTRICT_TZ
from domain.escalation import warn_point
from domain.routing import NoRoutingRule, RoutingRule, route
from domain.sla import DeadlineKind, SlaPolicy, due_at, select_policy

PREFIX = "GEN"
BATCH = 5_000
SYSTEM = "system"
HEATING_MONTHS = (11, 12, 1, 2, 3)
SUMMER_MONTHS = (6, 7, 8)
CHANNELS = {"hotline": 50, "app": 25, "grid_patrol": 12, "walk_in": 8, "letter": 3, "open311": 2}
PEOPLE = ("孙淑臻", "王秀梅", "刘建国", "张海燕", "李春华", "陈志强")
CASE_COLUMNS = [c.name for c in Case.__table__.columns]
EVENT_COLUMNS = ["case_id", "seq", "type", "at", "actor", "data"]


@dataclass
class Reference:
    """The reference data a generated case is drawn from and routed with."""

    communities: dict[str, str]  # code -> name
    grids: dict[str, list[str]]  # community -> its grid codes
    categories: dict[str, tuple[str, str, bool]]  # code -> (name, severity, government matter)
    rules: dict[str, list[RoutingRule]]
    place_units: dict[str, str]  # grid or community code -> its grid team / committee
    policies: list[SlaPolicy]
    ladder: list[tuple[int, str, str]]  # (level, name, unit or "@community")

    def grid_community(self, grid: str) -> str:
        return next(c for c, grids in self.grids.items() if grid in grids)


async def load_reference(session: AsyncSession) -> Reference:
    grids: dict[str, list[str]] = {}
    for code, community in await session.execute(select(Grid.code, Grid.community)):
        grids.setdefault(community, []).append(code)
    rules: dict[str, list[RoutingRule]] = {}
    for r in await session.scalars(select(RoutingRuleRow)):
        rules.setdefault(r.category, []).append(
            RoutingRule(
                code=r.code, category=r.category, community=r.community, grid=r.grid, unit=r.unit
            )
        )
    units = (
        await session.scalars(select(Unit).where(Unit.kind.in_(("grid_team", "community"))))
    ).all()
    communities = (await session.execute(select(Community.code, Community.name))).all()
    categories = (await session.scalars(select(Category).order_by(Category.code))).all()
    policies = (await session.scalars(select(SlaPolicyRow))).all()
    levels = (await session.scalars(select(EscalationLevel).order_by(EscalationLevel.level))).all()
    fields = SlaPolicy.model_fields.keys()
    return Reference(
        communities={code: name for code, name in communities},
        grids={c: sorted(g) for c, g in sorted(grids.items())},
        categories={c.code: (c.name, c.default_severity, c.government_matter) for c in categories},
        rules=rules,
        place_units={
            (u.grid if u.kind == "grid_team" else u.community) or "": u.code for u in units
        },
        policies=[SlaPolicy.model_validate({f: getattr(p, f) for f in fields}) for p in policies],
        ladder=[(r.level, r.name, r.unit) for r in levels],
    )


@dataclass
class CaseSpec:
    """What happens to one case; `generate` draws these, tests write them by hand."""

    received_at: datetime
    category: str
    grid: str
    channel: str = "hotline"
    rejected: bool = False  # 不予受理 right after dispatch
    returned: bool = False  # returned once (in time), then reassigned to the community
    accept_late: bool = False  # signed for after the deadline: deadline_missed, one ladder step
    reply_late: bool = False  # replied after the deadline: deadline_missed, one more step
    first_grade: str | None = None  # "unsatisfied": one re-handling before the final rating
    grade: str | None = "satisfied"  # None: nobody rated (closed unrated)
    solved: bool | None = True
    reply_share: float = 0.4  # how much of the reply limit the unit takes
    extra: dict[str, Any] = field(default_factory=dict)


class _Cut(Exception):
    """The next step lies after `as_of`: the case is still open there."""


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


class _Builder:
    """Plays one case forward like CaseWorkflow does, writing the same events and record."""

    def __init__(self, ref: Reference, spec: CaseSpec, number: int, as_of: datetime) -> None:
        self.ref, self.spec, self.as_of = ref, spec, as_of
        name, severity, _ = ref.categories[spec.category]
        self.community = ref.grid_community(spec.grid)
        self.policy = select_policy(ref.policies, spec.category, severity)
        received = spec.received_at.astimezone(UTC)
        year = received.astimezone(SUBDISTRICT_TZ).year
        self.row: dict[str, Any] = {
            "id": f"{PREFIX}-{year}-{number:06d}",
            "number": number,
            "status": "received",
            "channel": spec.channel,
            "external_ref": None,
            "category": spec.category,
            "severity": severity,
            "title": f"{name}（历史数据）",
            "description": f"{name}: 演示用历史案件, 不对应真实诉求",
            "address": f"{ref.communities[self.community]} {number % 40 + 1} 号楼",
            "community": self.community,
            "grid": spec.grid,
            "lat": None,
            "lon": None,
            "reporter_name": "历史数据",
            "reporter_phone": f"139{number % 100_000_000:08d}",
            "photo_url": None,
            "possible_duplicate_of": None,
            "merged_into": None,
            "unit": None,
            "rule": None,
            "overdue": False,
            "returns": 0,
            "rehandled": False,
            "grade": None,
            "solved": None,
            "outcome": None,
            "escalation_level": 0,
            "linkage": None,
            "suspended": False,
            "review": None,
            "received_at": received,
            "dispatched_at": None,
            "accepted_at": None,
            "contacted_at": None,
            "replied_at": None,
            "rated_at": None,
            "closed_at": None,
        }
        self.deadlines: dict[str, dict[str, Any]] = {}
        self.events: list[dict[str, Any]] = []
        self.now = received

    # ---- the steps ---------------------------------------------------------------------------

    def at(self, moment: datetime) -> None:
        if moment > self.as_of:
            raise _Cut
        self.now = moment

    def record(self, type: str, actor: str, **data: Any) -> None:
        self.events.append(
            {
                "case_id": self.row["id"],
                "seq": len(self.events) + 1,
                "type": type,
                "at": self.now,
                "actor": actor,
                "data": data,
            }
        )

    def deadline(self, kind: str) -> None:
        due = due_at(self.now, self.policy.limit(DeadlineKind(kind)), SUBDISTRICT_TZ)
        self.deadlines[kind] = {
            "kind": kind,
            "due_at": due,
            "met_at": None,
            "missed": False,
            "started_at": self.now,
            "warn_at": warn_point(self.now, due, self.policy.warn_share),
            "warned": False,
            "escalations": 0,
            "original_due_at": None,
        }

    def meet(self, kind: str) -> None:
        d = self.deadlines.get(kind)
        if d is not None and d["met_at"] is None:
            d["met_at"] = self.now

    def dispatch(self, unit: str, rule: str | None, reason: str, event: str) -> None:
        self.row.update(status="dispatched", unit=unit, rule=rule, dispatched_at=self.now)
        for kind in ("accept", "contact", "reply"):
            self.deadline(kind)
        due = {k: _iso(self.deadlines[k]["due_at"]) for k in ("accept", "contact", "reply")}
        actor = SYSTEM if event == "dispatched" else PEOPLE[0]
        self.record(event, actor, unit=unit, rule=rule, reason=reason, due=due)

    def miss(self, kind: str) -> None:
        """The deadline's timer fires unmet: recorded, overdue, one step up the ladder."""
        d = self.deadlines[kind]
        self.at(d["due_at"])
        d["missed"] = True
        self.row["overdue"] = True
        self.record(
            "deadline_missed",
            SYSTEM,
            deadline=kind,
            due_at=_iso(d["due_at"]),
            unit=self.row["unit"],
        )
        level = self.row["escalation_level"]
        if level < len(self.ref.ladder):
            number, name, unit = self.ref.ladder[level]
            if unit == "@community":
                unit = self.ref.place_units.get(self.community, unit)
            d["escalations"] += 1
            self.row["escalation_level"] = level + 1
            self.record(
                "escalated",
                SYSTEM,
                level=number,
                to=unit,
                name=name,
                reason=f"{kind} missed",
                deadline=kind,
            )

    def close(self, outcome: str) -> None:
        self.row.update(status="closed", outcome=outcome, closed_at=self.now)
        self.record(
            "closed",
            SYSTEM,
            outcome=outcome,
            grade=self.row["grade"],
            deadlines={
                k: {
                    "due_at": _iso(d["due_at"]),
                    "met_at": _iso(d["met_at"]),
                    "on_time": d["met_at"] is not None and d["met_at"] <= d["due_at"],
                    "original_due_at": None,
                }
                for k, d in self.deadlines.items()
            },
        )

    def reply_round(self, start: datetime, late: bool) -> None:
        """The unit replies within (or after) the current reply deadline."""
        due = self.deadlines["reply"]["due_at"]
        if late:
            self.miss("reply")
            when = due + timedelta(hours=3)
        else:
            when = start + (due - start) * self.spec.reply_share
        self.at(max(when, self.now + timedelta(minutes=5)))
        self.meet("reply")
        self.row["replied_at"] = self.now
        self.record("reply", PEOPLE[2], unit=self.row["unit"], result="已处理完毕并回复诉求人")

    def rate(self, grade: str, solved: bool | None) -> None:
        self.at(self.now + timedelta(hours=20))
        self.meet("rating")
        self.row.update(grade=grade, solved=solved, rated_at=self.now)
        self.record("rate", "诉求人", grade=grade, solved=solved, comment=None)

    # ---- the whole life ----------------------------------------------------------------------

    def play(self) -> None:
        spec, ref = self.spec, self.ref
        self.record("received", SYSTEM, channel=spec.channel, photo_url=None)
        self.at(self.now + timedelta(minutes=3))
        try:
            decision = route(
                ref.rules.get(spec.category, []),
                spec.category,
                spec.grid,
                self.community,
                ref.place_units,
            )
            unit, rule, reason = decision.unit, decision.rule, decision.reason
        except NoRoutingRule as no_rule:
            unit, rule, reason = "SD-CENTER", None, str(no_rule)
        self.dispatch(unit, rule, reason, "dispatched")
        if spec.rejected:
            self.at(self.now + timedelta(minutes=15))
            self.record("reject", PEOPLE[0], reason="不属于政府职责范围")
            self.close("rejected")
            return
        if spec.returned:
            self.at(self.now + timedelta(minutes=40))
            self.meet("accept")
            self.deadlines.pop("contact")
            self.deadlines.pop("reply")
            self.row.update(returns=1, status="returned")
            self.record("return", PEOPLE[3], unit=self.row["unit"], reason="不属于本单位职责")
            self.at(self.now + timedelta(minutes=30))
            other = ref.place_units.get(self.community, "SD-CENTER")
            self.dispatch(other, None, "re-routed after return", "reassign")
        dispatched_at = self.now
        if spec.accept_late:
            self.miss("accept")
            self.at(self.now + timedelta(hours=1))
        else:
            accept_due = self.deadlines["accept"]["due_at"]
            self.at(self.now + min(timedelta(minutes=20), (accept_due - self.now) / 3))
        self.meet("accept")
        self.row.update(status="in_progress", accepted_at=self.now)
        self.record("accept", PEOPLE[1], unit=self.row["unit"], note=None)
        contact_due = self.deadlines["contact"]["due_at"]
        self.at(self.now + min(timedelta(hours=1), (contact_due - self.now) / 3))
        self.meet("contact")
        self.row["contacted_at"] = self.now
        self.record("contact", PEOPLE[1], note="已电话联系诉求人")
        self.reply_round(dispatched_at, spec.reply_late)
        if spec.channel == "grid_patrol":
            # 核查: the grid worker checks the fix on site instead of a resident's rating.
            self.row["status"] = "verifying"
            self.deadline("verify")
            self.at(self.now + timedelta(hours=6))
            self.meet("verify")
            self.record("verify", PEOPLE[4], fixed=True, note="现场核查已整改", evidence_url=None)
            self.close("verified")
            return
        self.row["status"] = "replied"
        self.deadline("rating")
        if spec.first_grade == "unsatisfied":
            self.rate("unsatisfied", False)
            self.row.update(rehandled=True, status="in_progress")
            del self.deadlines["rating"]
            self.deadline("reply")
            self.record("rehandling", SYSTEM, unit=self.row["unit"])
            self.reply_round(self.now, False)
            self.row["status"] = "replied"
            self.deadline("rating")
        if spec.grade is None:
            self.at(self.deadlines["rating"]["due_at"])
            self.close("unrated")
            return
        self.rate(spec.grade, spec.solved)
        if spec.grade == "unsatisfied" and self.row["rehandled"]:
            self.row["review"] = "pending"
            self.record("review_opened", SYSTEM, unit=self.row["unit"])
            self.at(self.now + timedelta(days=1))
            self.row["review"] = "closed"
            self.record("review_close", PEOPLE[5], verdict="已尽力处理, 督办审查后办结")
        self.close("rated")

    def result(self) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        with contextlib.suppress(_Cut):
            self.play()
        row = self.row
        pending = [d for d in self.deadlines.values() if d["met_at"] is None and not d["missed"]]
        earliest = None if row["outcome"] else min(pending, key=lambda d: d["due_at"], default=None)
        row.update(
            due_at=earliest["due_at"] if earliest else None,
            warn_at=earliest["warn_at"] if earliest else None,
            deadlines=[
                {k: _iso(v) if isinstance(v, datetime) else v for k, v in d.items()}
                for d in self.deadlines.values()
            ],
            last_seq=len(self.events),
            updated_at=self.now,
        )
        return row, self.events


def build_case(
    ref: Reference, spec: CaseSpec, number: int, as_of: datetime
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The record row and event log of one case as they stand at `as_of`."""
    return _Builder(ref, spec, number, as_of).result()


async def insert_cases(
    session: AsyncSession,
    ref: Reference,
    specs: Sequence[CaseSpec],
    *,
    as_of: datetime,
    progress: Callable[[int], None] | None = None,
) -> list[str]:
    """Write the cases in batches of BATCH (PostgreSQL COPY); numbers from case_number_seq in
    the order of `specs`. Returns their ids."""
    connection = await session.connection()
    raw = (await connection.get_raw_connection()).driver_connection
    assert raw is not None
    ids: list[str] = []
    for first in range(0, len(specs), BATCH):
        batch = specs[first : first + BATCH]
        numbers = sorted(
            await session.scalars(
                text("SELECT nextval('case_number_seq') FROM generate_series(1, :n)"),
                {"n": len(batch)},
            )
        )
        rows, events = [], []
        for spec, number in zip(batch, numbers, strict=True):
            row, log = build_case(ref, spec, int(number), as_of)
            row["deadlines"] = json.dumps(row["deadlines"], ensure_ascii=False)
            rows.append(tuple(row[c] for c in CASE_COLUMNS))
            for e in log:
                e["data"] = json.dumps(e["data"], ensure_ascii=False)
                events.append(tuple(e[c] for c in EVENT_COLUMNS))
            ids.append(row["id"])
        await raw.copy_records_to_table("cases", records=rows, columns=CASE_COLUMNS)
        await raw.copy_records_to_table("case_events", records=events, columns=EVENT_COLUMNS)
        if progress is not None:
            progress(len(batch))
    return ids


# ---- drawing a realistic history ---------------------------------------------------------------


def _month_starts(end: date, months: int) -> list[date]:
    starts = []
    year, month = end.year, end.month
    for _ in range(months):
        year, month = (year, month - 1) if month > 1 else (year - 1, 12)
        starts.append(date(year, month, 1))
    return starts[::-1]


def _next_month(day: date) -> date:
    return date(day.year + day.month // 12, day.month % 12 + 1, 1)


def _season(month: int) -> float:
    """More requests in summer (water, power, noise) and in the heating season."""
    return 1.35 if month in SUMMER_MONTHS else 1.25 if month in HEATING_MONTHS else 1.0


def _category_weights(ref: Reference, month: int) -> tuple[list[str], list[float]]:
    base = {"normal": 10.0, "urgent": 4.0, "emergency": 1.0, "major": 0.5}
    codes, weights = [], []
    for code, (_, severity, government) in ref.categories.items():
        weight = base.get(severity, 1.0) * (1.0 if government else 0.2)
        if code == "utilities.heating":
            weight *= 6 if month in HEATING_MONTHS else 0
        elif code in ("utilities.water_outage", "utilities.power_outage"):
            weight *= 2 if month in SUMMER_MONTHS else 1
        codes.append(code)
        weights.append(weight)
    return codes, weights


def draw_specs(
    ref: Reference, rng: random.Random, *, cases: int, start_months: list[date], end: date
) -> list[CaseSpec]:
    """`cases` specs spread over the months by season, in order of receipt."""
    weights = [_season(m.month) * ((_next_month(m) - m).days) for m in start_months]
    per_month = [0] * len(start_months)
    for i in rng.choices(range(len(start_months)), weights=weights, k=cases):
        per_month[i] += 1
    communities = list(ref.grids)
    community_weights = [rng.uniform(0.5, 1.5) for _ in communities]
    hours = list(range(24))
    hour_weights = [0.2 if h < 7 or h > 21 else 2.0 if 8 <= h <= 11 else 1.0 for h in hours]
    channels, channel_weights = list(CHANNELS), list(CHANNELS.values())
    specs: list[CaseSpec] = []
    for month_start, count in zip(start_months, per_month, strict=True):
        days = (min(_next_month(month_start), end) - month_start).days
        codes, category_weights = _category_weights(ref, month_start.month)
        received = sorted(
            datetime.combine(
                month_start + timedelta(days=rng.randrange(days)),
                time(rng.choices(hours, hour_weights)[0], rng.randrange(60), rng.randrange(60)),
                tzinfo=SUBDISTRICT_TZ,
            )
            for _ in range(count)
        )
        for at in received:
            category = rng.choices(codes, category_weights)[0]
            community = rng.choices(communities, community_weights)[0]
            channel = rng.choices(channels, channel_weights)[0]
            government = ref.categories[category][2]
            roll = rng.random()
            grade: str | None = (
                None
                if roll < 0.08
                else "unsatisfied"
                if roll < 0.083
                else "basically_satisfied"
                if roll < 0.2
                else "satisfied"
            )
            specs.append(
                CaseSpec(
                    received_at=at,
                    category=category,
                    grid=rng.choice(ref.grids[community]),
                    channel=channel,
                    rejected=not government or rng.random() < 0.01,
                    returned=rng.random() < 0.03,
                    accept_late=rng.random() < 0.04,
                    reply_late=rng.random() < 0.03,
                    first_grade="unsatisfied"
                    if grade == "unsatisfied" or rng.random() < 0.01
                    else None,
                    grade=grade,
                    solved=None
                    if grade is None
                    else rng.random()
                    < {
                        "satisfied": 0.99,
                        "basically_satisfied": 0.85,
                        "unsatisfied": 0.1,
                    }[grade],
                    reply_share=rng.uniform(0.05, 0.6),
                )
            )
    return specs


@dataclass
class Generated:
    cases: int
    start: date  # first local day
    end: date  # first local day after


async def generate(
    session: AsyncSession,
    *,
    cases: int,
    months: int = 12,
    seed: int = 42,
    end: date | None = None,
    progress: Callable[[int], None] | None = None,
) -> Generated:
    """`cases` historical cases over the `months` whole months before `end` (default: the
    current month), as they stand at `end`: the last days' cases are still open."""
    end = end or datetime.now(SUBDISTRICT_TZ).date().replace(day=1)
    starts = _month_starts(end, months)
    ref = await load_reference(session)
    specs = draw_specs(ref, random.Random(seed), cases=cases, start_months=starts, end=end)
    as_of = datetime.combine(end, time(), tzinfo=SUBDISTRICT_TZ)
    await insert_cases(session, ref, specs, as_of=as_of, progress=progress)
    return Generated(cases=len(specs), start=starts[0], end=end)

"""Demo HISTORY for the KPIs and their benchmark: realistic past cases written straight into
`cases` and `case_events`. No workflow runs, but each case's history is made by the lifecycle
model the workflow runs (domain.lifecycle), so it is a history the real workflow could have
recorded; an open generated case has no workflow behind it, so its actions do nothing. Ids are
GEN-YYYY-NNNNNN (never a live LC- id), numbers come from case_number_seq. Never commits."""

from __future__ import annotations

import contextlib
import json
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.asyncio import AsyncSession

from db import cases
from db.models import (
    Case,
    Category,
    Community,
    Grid,
    Holiday,
    RoutingRuleRow,
    RungRow,
    SlaPolicyRow,
    Unit,
)
from domain import alarms, lifecycle, linkage
from domain.allowed import allowed_actions
from domain.calendar import SPAN, SUBDISTRICT_TZ, working_days_from
from domain.case import (
    AcceptInput,
    Action,
    CaseEvent,
    CaseIntake,
    Channel,
    ContactInput,
    Grade,
    Location,
    RateInput,
    ReassignInput,
    RejectInput,
    ReplyInput,
    ReturnInput,
    ReviewCloseInput,
    Routed,
    Severity,
    VerifyInput,
)
from domain.change import Step
from domain.common import ActionInput
from domain.escalation import Rung
from domain.linkage import (
    AddAgencyInput,
    AgencyDoneInput,
    AgencyInput,
    AgencyStatus,
    LinkageAction,
    LinkageStep,
)
from domain.permissions import Principal, Role
from domain.routing import NoRoutingRule, RoutingRule, route, with_committee
from domain.sla import DeadlineKind, SlaPolicy, select_policy
from domain.state import CaseState
from domain.view import view as state_view
from domain.visit import VisitInput

PREFIX = "GEN"
BATCH = 5_000
HEATING_MONTHS = (11, 12, 1, 2, 3)
SUMMER_MONTHS = (6, 7, 8)
CHANNELS = {"hotline": 50, "app": 25, "grid_patrol": 12, "walk_in": 8, "letter": 3, "open311": 2}
# A summoned agency reports (报到) this long after the whistle.
AGENCY_REPORTS = timedelta(minutes=30)
PEOPLE = ("孙淑臻", "王秀梅", "刘建国", "张海燕", "李春华", "陈志强")
CASE_COLUMNS = [c.name for c in Case.__table__.columns]
# COPY takes JSONB as text.
JSON_COLUMNS = [c.name for c in Case.__table__.columns if isinstance(c.type, JSONB)]
EVENT_COLUMNS = ["case_id", "seq", "type", "at", "actor", "data"]


@dataclass
class Reference:
    """The reference data a generated case is drawn from and routed with."""

    communities: dict[str, str]  # code -> name
    grids: dict[str, list[str]]  # community -> its grid codes
    categories: dict[str, Category]
    rules: dict[str, list[RoutingRule]]
    place_units: dict[str, str]  # grid or community code -> its grid team / committee
    policies: list[SlaPolicy]
    ladder: list[RungRow]
    holidays: dict[date, bool]  # the holidays table: day -> working?
    published_until: date | None

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
    levels = (await session.scalars(select(RungRow).order_by(RungRow.level))).all()
    holidays = dict((await session.execute(select(Holiday.day, Holiday.working))).all())
    fields = SlaPolicy.model_fields.keys()
    return Reference(
        communities={code: name for code, name in communities},
        grids={c: sorted(g) for c, g in sorted(grids.items())},
        categories={c.code: c for c in categories},
        rules=rules,
        place_units={
            (u.grid if u.kind == "grid_team" else u.community) or "": u.code for u in units
        },
        policies=[SlaPolicy.model_validate({f: getattr(p, f) for f in fields}) for p in policies],
        ladder=list(levels),
        holidays=holidays,
        published_until=date(max(holidays).year, 12, 31) if holidays else None,
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
    # 回访: rated in the app (a sample of those is verified by a call), or by the desk's call,
    # which first misses the resident on this many working days (the policy's number of misses
    # closes the case unreachable).
    rated_in_app: bool = False
    unreached: int = 0
    reply_share: float = 0.4  # how much of the reply limit the unit takes
    extra: dict[str, Any] = field(default_factory=dict)


class _Cut(Exception):
    """The next step lies after `as_of`: the case is still open there."""


def _by(name: str) -> Principal:
    """Who acts in generated history (the record keeps the name)."""
    return Principal(subject=name, role=Role.admin)


class _Life:
    """Drives one case through the lifecycle model, as the workflow would: people act at the
    drawn moments, and every alarm due before an action rings first."""

    def __init__(self, ref: Reference, spec: CaseSpec, number: int, as_of: datetime) -> None:
        self.ref, self.spec, self.as_of = ref, spec, as_of
        category = ref.categories[spec.category]
        self.community = ref.grid_community(spec.grid)
        received = spec.received_at.astimezone(UTC)
        year = received.astimezone(SUBDISTRICT_TZ).year
        self.intake = CaseIntake(
            case_id=f"{PREFIX}-{year}-{number:06d}",
            number=number,
            channel=Channel(spec.channel),
            category=spec.category,
            title=f"{category.name}（历史数据）",
            location=Location(
                address=f"{ref.communities[self.community]} {number % 40 + 1} 号楼",
                community=self.community,
                grid=spec.grid,
            ),
        )
        self.events: list[CaseEvent] = []
        self.linkage: linkage.LinkageState | None = None  # what the linkage child would keep
        self.state = self.take(lifecycle.start(self.intake, received))
        self.now = received

    def take(self, step: Step) -> CaseState:
        self.state = step.state
        self.events += step.events
        if step.start_linkage is not None:
            self.linkage = linkage.start(step.start_linkage)
        if step.cancel_linkage:
            self.linkage = None
        return self.state

    def until(self, moment: datetime) -> None:
        """Let time run to `moment`: every alarm due by then rings, the case's and its linkage's,
        in order, and a summoned agency reports half an hour after the whistle (up to `as_of`)."""
        horizon = min(moment, self.as_of)
        while True:
            alarm = alarms.next_alarm(self.state)
            parts = self.linkage
            part_alarm = linkage.next_alarm(parts) if parts else None
            reporting = [
                p for p in (parts.parts if parts else []) if p.status is AgencyStatus.summoned
            ]
            report_at = min((p.summoned_at + AGENCY_REPORTS for p in reporting), default=None)
            first = min(
                (at for at in (alarm and alarm.at, part_alarm and part_alarm.at, report_at) if at),
                default=None,
            )
            if first is None or first > horizon:
                break
            if parts is not None and report_at == first:
                part = next(p for p in reporting if p.summoned_at + AGENCY_REPORTS == first)
                self.on_linkage(LinkageAction.report, AgencyInput(agency=part.unit), first)
            elif parts is not None and part_alarm is not None and part_alarm.at == first:
                self.told(linkage.ring(parts, part_alarm, first), first)
            elif alarm is not None:
                self.take(alarms.ring(self.state, alarm, alarm.at))
        if moment > self.as_of:
            raise _Cut
        self.now = moment

    def on_linkage(
        self, action: LinkageAction, input: ActionInput, moment: datetime, who: str | None = None
    ) -> None:
        """An agency acts on its part (in its own name), or the coordinator, through the
        linkage's model."""
        assert self.linkage is not None and isinstance(input, linkage.PartInput)
        signed = input.model_copy(update={"principal": _by(who or input.agency)})
        self.told(linkage.act(self.linkage, action, signed, moment), moment)

    def told(self, step: LinkageStep, moment: datetime) -> None:
        """What the linkage tells its case, recorded by the case; then completes it if done."""
        self.linkage = step.state
        for change in step.changes:
            self.take(lifecycle.linkage_changed(self.state, change, moment))
        if self.linkage is not None and self.linkage.complete:
            finished = linkage.finish(self.linkage, moment)
            self.linkage = None
            for change in finished.changes:
                self.take(lifecycle.linkage_changed(self.state, change, moment))

    def act(self, moment: datetime, action: Action, input: ActionInput, who: str) -> None:
        self.until(moment)
        signed = input.model_copy(update={"principal": _by(who)})
        self.take(lifecycle.act(self.state, action, signed, self.now))

    def routed(self) -> Routed:
        """What the routing activity would answer, from the same reference data."""
        ref, spec = self.ref, self.spec
        category = ref.categories[spec.category]
        committee = ref.place_units.get(self.community)
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
        start = self.now.astimezone(SUBDISTRICT_TZ).date()
        return Routed(
            unit=unit,
            rule=rule,
            reason=reason,
            community=self.community,
            grid=spec.grid,
            severity=Severity(category.default_severity),
            policy=select_policy(ref.policies, spec.category, category.default_severity),
            working_days=working_days_from(start, ref.holidays, ref.published_until, start + SPAN),
            ladder=[
                Rung(level=r.level, name=r.name, unit=u, takes_over=r.takes_over)
                for r in ref.ladder
                if (u := with_committee(r.unit, committee))
            ],
            grid_team=ref.place_units.get(spec.grid),
            committee=committee,
            needs_linkage=category.linkage,
            linkage_agencies=[
                u for a in category.linkage_agencies if (u := with_committee(a, committee))
            ],
        )

    def linkage_done(self, moment: datetime) -> None:
        """The agencies of an open linkage finish their parts. One opened with nobody to summon
        (a category without linkage agencies, escalated to the subdistrict) gets one from the
        coordinator first: the residents' committee, or the lead's own centre."""
        self.until(moment)
        if self.linkage is not None and not self.linkage.parts:
            committee = self.state.routed.committee if self.state.routed else None
            agency = committee if committee != self.linkage.lead_unit else None
            added = AddAgencyInput(agency=agency or "SD-CENTER", reason="联动需要社区协同")
            self.on_linkage(LinkageAction.add_agency, added, moment, PEOPLE[0])
        for part in list(self.linkage.parts if self.linkage else []):
            if part.status is AgencyStatus.summoned:
                self.on_linkage(LinkageAction.report, AgencyInput(agency=part.unit), moment)
            if part.status is not AgencyStatus.done and self.linkage is not None:
                done = AgencyDoneInput(agency=part.unit, note="本单位部分已办结")
                self.on_linkage(LinkageAction.agency_done, done, moment)

    def reply(self, start: datetime, late: bool) -> None:
        """The unit replies within (or after) the current reply deadline."""
        due = self.state.deadlines[DeadlineKind.reply].due_at
        when = due + timedelta(hours=3) if late else start + (due - start) * self.spec.reply_share
        when = max(when, self.now + timedelta(minutes=5))
        self.linkage_done(when - timedelta(minutes=1))
        self.act(when, Action.reply, ReplyInput(result="已处理完毕并回复诉求人"), PEOPLE[2])

    def rate(self, grade: str, solved: bool | None) -> None:
        """回访/评价: the resident rates in the app (a sampled rating is verified by a call),
        or the desk calls from the day the visit is due, missing the resident on
        `spec.unreached` working days first (the policy's number closes it unreachable)."""
        reached = VisitInput(reached=True, grade=Grade(grade), solved=solved)
        if self.spec.rated_in_app:
            rating = RateInput(grade=Grade(grade), solved=solved)
            resident = Principal(subject="诉求人", role=Role.resident, case_id=self.intake.case_id)
            self.until(self.now + timedelta(hours=20))
            signed = rating.model_copy(update={"principal": resident})
            self.take(lifecycle.act(self.state, Action.rate, signed, self.now))
            if self.state.verification == "pending":
                self.visit(0, reached)
            return
        for attempt in range(self.spec.unreached):
            self.visit(attempt, VisitInput(reached=False, note="无人接听"))
            if self.state.outcome is not None:  # closed unreachable
                return
        self.visit(self.spec.unreached, reached)

    def visit(self, attempt: int, call: VisitInput) -> None:
        """One call of the desk, on the `attempt`-th working day after the visit is due, at 10:00;
        a call that would come after the rating window lets the window close the case."""
        state = self.state
        assert state.visit_due_at is not None and state.routed is not None
        due = state.visit_due_at.astimezone(SUBDISTRICT_TZ)
        day = state.routed.working_days.add(due, attempt).replace(hour=10, minute=0, second=0)
        moment = max(day, due, self.now + timedelta(minutes=5)).astimezone(UTC)
        window = state.deadlines[DeadlineKind.rating].due_at
        if moment >= window:
            self.until(window)
            return
        self.act(moment, Action.visit, call, "回访员")

    def play(self) -> None:
        spec = self.spec
        self.until(self.now + timedelta(minutes=3))
        self.take(lifecycle.route(self.state, self.routed(), self.now))
        if spec.rejected:
            reason = RejectInput(reason="不属于政府职责范围")
            self.act(self.now + timedelta(minutes=15), Action.reject, reason, PEOPLE[0])
            return
        if spec.returned:
            back = ReturnInput(reason="不属于本单位职责")
            self.act(self.now + timedelta(minutes=40), Action.return_, back, PEOPLE[3])
            other = self.ref.place_units.get(self.community, "SD-CENTER")
            again = ReassignInput(unit=other, reason="re-routed after return")
            self.act(self.now + timedelta(minutes=30), Action.reassign, again, PEOPLE[0])
        dispatched_at = self.now
        accept_due = self.state.deadlines[DeadlineKind.accept].due_at
        accepted = (
            accept_due + timedelta(hours=1)
            if spec.accept_late
            else self.now + min(timedelta(minutes=20), (accept_due - self.now) / 3)
        )
        self.act(accepted, Action.accept, AcceptInput(), PEOPLE[1])
        contact_due = self.state.deadlines[DeadlineKind.contact].due_at
        contacted = self.now + min(timedelta(hours=1), (contact_due - self.now) / 3)
        self.act(contacted, Action.contact, ContactInput(note="已电话联系诉求人"), PEOPLE[1])
        self.reply(dispatched_at, spec.reply_late)
        if self.state.grid_event:
            # 核查: the grid worker checks the fix on site instead of a resident's rating.
            check = VerifyInput(fixed=True, note="现场核查已整改")
            self.act(self.now + timedelta(hours=6), Action.verify, check, PEOPLE[4])
            return
        if spec.first_grade == "unsatisfied":
            self.rate("unsatisfied", False)
            self.reply(self.now, False)
        if spec.grade is None:
            self.until(self.state.deadlines[DeadlineKind.rating].due_at)  # closes unrated
            return
        self.rate(spec.grade, spec.solved)
        if self.state.review == "pending":
            verdict = ReviewCloseInput(verdict="已尽力处理, 督办审查后办结")
            self.act(self.now + timedelta(days=1), Action.review_close, verdict, PEOPLE[5])

    def result(self) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        with contextlib.suppress(_Cut):
            self.play()
        view = state_view(self.state, allowed_actions(self.state))
        row = cases.row_of(view)
        row.update(
            view.model_dump(include={"id", "number", "channel", "external_ref", "category"}),
            description=f"{self.intake.title}: 演示用历史案件, 不对应真实诉求",
            address=self.intake.location.address,
            lat=None,
            lon=None,
            reporter_name="历史数据",
            reporter_phone=f"139{self.intake.number % 100_000_000:08d}",
            reporter_email=None,
            given_crs=None,
            given_lat=None,
            given_lon=None,
            photo_url=None,
            possible_duplicate_of=None,
            updated_at=self.now,
        )
        log = [{"case_id": view.id, **e.model_dump()} for e in self.events]
        return row, log


def build_case(
    ref: Reference, spec: CaseSpec, number: int, as_of: datetime
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The record row and event log of one case as they stand at `as_of`."""
    return _Life(ref, spec, number, as_of).result()


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
            for column in JSON_COLUMNS:
                if row[column] is not None:
                    row[column] = json.dumps(row[column], ensure_ascii=False, default=str)
            rows.append(tuple(row[c] for c in CASE_COLUMNS))
            for e in log:
                e["data"] = json.dumps(e["data"], ensure_ascii=False, default=str)
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
    for code, category in ref.categories.items():
        severity, government = category.default_severity, category.government_matter
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
            government = ref.categories[category].government_matter
            roll = rng.random()
            app = channel == "app" and rng.random() < 0.7  # the others wait for the desk's call
            unreached = rng.choices((0, 1, 2, 3), (88, 6, 3, 3))[0]  # 3: closed unreachable
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
                    rated_in_app=app,
                    unreached=0 if app else unreached,
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

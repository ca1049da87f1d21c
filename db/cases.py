"""The case record: written by the persistence activity, read by the API. Never commits."""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from sqlalchemy import ColumnElement, String, cast, delete, func, select, tuple_, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import Case, CaseEventRow, CaseIntakeKey, Notification, case_number_seq
from domain.case import (
    CaseEvent,
    CaseIntake,
    CaseReceived,
    CaseRecord,
    CaseView,
    Channel,
    Location,
    Reporter,
    Severity,
)
from domain.common import Notice
from domain.places import distance_m

# The columns of the case row the workflow keeps current (the rest is intake's: the reporter and
# the description never pass through Temporal).
_FROM_THE_WORKFLOW = {
    "status",
    "visit_due_at",
    "verification",
    "chases",
    "appeal",
    "appealed",
    "exemption",
    "assists",
    "handoffs",
    "reopens",
    "dispute",
    "bound_unit",
    "reopen_until",
    "received_at",
    "severity",
    "title",
    "community",
    "grid",
    "unit",
    "rule",
    "overdue",
    "returns",
    "rehandled",
    "grade",
    "solved",
    "outcome",
    "dispatched_at",
    "accepted_at",
    "contacted_at",
    "replied_at",
    "rated_at",
    "closed_at",
    "last_seq",
    "escalation_level",
    "suspended",
    "review",
    "merged_into",
    "parent",
}


class MissingCase(LookupError):
    """The workflow recorded a case whose row intake never wrote."""


async def open_case(session: AsyncSession, intake: CaseIntake, received: CaseReceived) -> None:
    """Intake writes the case row (with its reporter and description) before the workflow
    starts; a repeated intake of the same case changes nothing."""
    location, given = intake.location, received.given
    await session.execute(
        insert(Case)
        .values(
            id=intake.case_id,
            number=intake.number,
            status="received",
            channel=intake.channel.value,
            external_ref=intake.external_ref,
            category=intake.category,
            severity=intake.severity.value if intake.severity else None,
            title=intake.title,
            description=received.description,
            address=location.address,
            community=location.community,
            grid=location.grid,
            lat=location.lat,
            lon=location.lon,
            reporter_name=received.reporter.name,
            reporter_phone=received.reporter.phone,
            reporter_email=received.reporter.email,
            given_crs=given.crs.value if given and given.lat is not None else None,
            given_lat=given.lat if given else None,
            given_lon=given.lon if given else None,
            photo_url=intake.photo_url,
            possible_duplicate_of=intake.possible_duplicate_of,
            received_at=received.at,
            last_seq=0,
            deadlines=[],
        )
        .on_conflict_do_nothing(index_elements=[Case.id])
    )
    await session.flush()


def received_of(case: Case, given: Location | None = None) -> CaseReceived:
    """Intake's own part of a recorded case (its reporter and words), for a case filed from it
    (a split's child, received now at `given`)."""
    return CaseReceived(
        description=case.description,
        reporter=Reporter(
            name=case.reporter_name or "-", phone=case.reporter_phone, email=case.reporter_email
        ),
        at=datetime.now(UTC),
        given=given,
    )


def intake_of(case: Case) -> CaseIntake:
    """What the workflow of a recorded case starts from (intake's own part of the row)."""
    return CaseIntake(
        case_id=case.id,
        number=case.number,
        channel=Channel(case.channel),
        external_ref=case.external_ref,
        category=case.category,
        severity=Severity(case.severity) if case.severity else None,
        title=case.title,
        location=Location(
            address=case.address,
            community=case.community,
            grid=case.grid,
            lat=case.lat,
            lon=case.lon,
        ),
        photo_url=case.photo_url,
        possible_duplicate_of=case.possible_duplicate_of,
    )


def row_of(view: CaseView) -> dict[str, Any]:
    """The columns of the case row that the case's life keeps current."""
    row: dict[str, Any] = view.model_dump(include=_FROM_THE_WORKFLOW)
    row["linkage"] = view.linkage.status.value if view.linkage else None
    row["deadlines"] = [d.model_dump(mode="json") for d in view.deadlines]
    row["children"] = [c.model_dump(mode="json") for c in view.children]
    pending = [d for d in view.deadlines if d.met_at is None and not d.missed]
    earliest = (
        None
        if view.outcome or view.suspended
        else min(pending, key=lambda d: d.due_at, default=None)
    )
    row["due_at"] = earliest.due_at if earliest else None
    row["warn_at"] = earliest.warn_at if earliest else None
    return row


# A lost task's notice is taken over only by a retry within this long of its setting aside:
# the retry comes as soon as Temporal is back; a later notice that happens to read the same
# (two urges a day apart) is a notice of its own and goes out.
TAKE_OVER_WITHIN = timedelta(hours=1)


# What a record found: nothing yet, itself (a retried activity), a lost task's steps (replaced),
# or steps of tasks that saw more history than its own (it is stale: it writes nothing).
Recorded = Literal["written", "already written", "replaced", "stale"]


async def record(session: AsyncSession, rec: CaseRecord) -> Recorded:
    """Bring the case row to the workflow's state and write its new events and notifications.

    The record runs as a local activity inside the workflow task that takes the step, so it may
    have written for a task the server never persisted (Temporal went down): the retried task
    can see a signal or an Update the lost one did not, and then record other steps under the
    same sequence numbers. The retried task's record is the one that counts: what is already
    written from its first sequence number on is kept if it is this very record (a retry of the
    activity) and replaced otherwise; the lost task's notifications are set aside, and each is
    taken over by the same notice if the retried task records it (one that went out stays
    sent, once). Unless what is written came from a task that had seen more of the case's
    history (a higher fence): then this record is the stale one (a task the server gave out
    before a restart, run late) and writes nothing. Says which it was."""
    view = rec.case
    first = rec.events[0].seq if rec.events else view.last_seq + 1
    found = (
        await session.execute(
            select(Case.last_seq, _has_superseded(view.id))
            .where(Case.id == view.id)
            .with_for_update(of=Case)  # one record of a case at a time
        )
    ).one_or_none()
    if found is None:
        raise MissingCase(view.id)
    last_seq, superseded = found
    recorded: Recorded = "written"
    if last_seq >= first:
        written, fence = await _events_from(session, view.id, first)
        if written == rec.events:
            return "already written"
        if fence > rec.fence:
            return "stale"
        await _supersede(session, view.id, first)
        superseded, recorded = True, "replaced"
    await session.execute(
        update(Case).where(Case.id == view.id).values(**row_of(view), updated_at=func.now())
    )
    if rec.events:
        await session.execute(
            insert(CaseEventRow).values(
                [{"case_id": view.id, "fence": rec.fence, **e.model_dump()} for e in rec.events]
            )
        )
    notices = rec.notifications
    if superseded:
        notices = [n for n in notices if not await _take_over(session, view.id, n)]
    if notices:
        # The outbox row shares the event's transaction and its key: a retry adds nothing.
        await session.execute(
            insert(Notification)
            .values(
                [
                    {"id": _notification_id(view.id, n), "case_id": view.id, **n.model_dump()}
                    for n in notices
                ]
            )
            .on_conflict_do_nothing(index_elements=[Notification.id])
        )
    await session.flush()
    return recorded


def _notification_id(case_id: str, notice: Notice) -> str:
    return f"{case_id}:{notice.seq}:{notice.recipient}"


def _takeable() -> ColumnElement[bool]:
    """Set aside recently enough for a retry's notice to take it over."""
    return Notification.superseded_at > func.now() - TAKE_OVER_WITHIN


def _has_superseded(case_id: str) -> ColumnElement[bool]:
    return select(Notification.id).where(Notification.case_id == case_id, _takeable()).exists()


async def _events_from(
    session: AsyncSession, case_id: str, first: int
) -> tuple[list[CaseEvent], int]:
    """The events written from `first` on, and the highest fence they were written under."""
    rows = (
        await session.scalars(
            select(CaseEventRow)
            .where(CaseEventRow.case_id == case_id, CaseEventRow.seq >= first)
            .order_by(CaseEventRow.seq)
        )
    ).all()
    events = [CaseEvent.model_validate(row, from_attributes=True) for row in rows]
    return events, max((row.fence for row in rows), default=0)


async def _supersede(session: AsyncSession, case_id: str, first: int) -> None:
    """Set aside what a lost task wrote from `first` on. A notification a sender is sending
    holds its row lock: this waits for it, and the row stays sent."""
    await session.execute(
        delete(CaseEventRow).where(CaseEventRow.case_id == case_id, CaseEventRow.seq >= first)
    )
    await session.execute(
        update(Notification)
        .where(
            Notification.case_id == case_id,
            Notification.seq >= first,
            Notification.superseded_at.is_(None),
        )
        # out of the way of the keys the retried task writes (unique per transaction)
        .values(
            superseded_at=func.now(),
            id=func.left(Notification.id, 100) + "~" + cast(func.txid_current(), String),
        )
    )


async def _take_over(session: AsyncSession, case_id: str, notice: Notice) -> bool:
    """Give `notice` the set-aside notification that is the same notice, if there is one (sent,
    refused or still waiting, it keeps that state)."""
    same = (
        select(Notification.id)
        .where(
            Notification.case_id == case_id,
            _takeable(),
            Notification.recipient == notice.recipient,
            Notification.kind == notice.kind,
            Notification.params == notice.params,
        )
        .order_by(Notification.seq)
        .limit(1)
        .scalar_subquery()
    )
    taken = await session.execute(
        update(Notification)
        .where(Notification.id == same)
        .values(id=_notification_id(case_id, notice), seq=notice.seq, superseded_at=None)
    )
    return bool(taken.rowcount)  # type: ignore[attr-defined]


async def nearby_open(
    session: AsyncSession,
    *,
    category: str,
    lat: float,
    lon: float,
    since: datetime,
    radius_m: float,
) -> str | None:
    """The closest open case of `category` received since `since` within `radius_m` metres
    (FixMyStreet's duplicate suggestion): a box in SQL, the exact distance here."""
    dlat = radius_m / 111_320
    dlon = dlat / max(0.01, math.cos(math.radians(lat)))
    rows = await session.execute(
        select(Case.id, Case.lat, Case.lon)
        .where(
            Case.category == category,
            Case.status != "closed",
            Case.received_at >= since,
            Case.lat.between(lat - dlat, lat + dlat),
            Case.lon.between(lon - dlon, lon + dlon),
        )
        .limit(200)
    )
    near = [
        (distance_m(lat, lon, r_lat, r_lon), case_id)
        for case_id, r_lat, r_lon in rows
        if r_lat is not None and r_lon is not None
    ]
    near = [n for n in near if n[0] <= radius_m]
    return min(near)[1] if near else None


async def count_unrated(session: AsyncSession, unit: str, since: datetime) -> int:
    count = await session.scalar(
        select(func.count())
        .select_from(Case)
        .where(Case.unit == unit, Case.outcome == "unrated", Case.closed_at >= since)
    )
    return int(count or 0)


async def allocate_number(session: AsyncSession) -> int:
    number = await session.scalar(select(case_number_seq.next_value()))
    assert number is not None
    return int(number)


async def claim_intake(
    session: AsyncSession, channel: str, external_ref: str, case_id: str, number: int
) -> CaseIntakeKey:
    """Register (channel, external_ref) for a new case id, or return the one registered before."""
    await session.execute(
        insert(CaseIntakeKey)
        .values(channel=channel, external_ref=external_ref, case_id=case_id, number=number)
        .on_conflict_do_nothing(index_elements=[CaseIntakeKey.channel, CaseIntakeKey.external_ref])
    )
    key = await session.get(CaseIntakeKey, (channel, external_ref), populate_existing=True)
    assert key is not None
    return key


async def get(session: AsyncSession, case_id: str) -> Case | None:
    return await session.get(Case, case_id)


async def events(session: AsyncSession, case_id: str) -> Sequence[CaseEventRow]:
    result = await session.scalars(
        select(CaseEventRow).where(CaseEventRow.case_id == case_id).order_by(CaseEventRow.seq)
    )
    return result.all()


async def page(
    session: AsyncSession,
    *,
    filters: dict[str, Any],
    overdue: bool | None,
    before: int | None,
    limit: int,
    conditions: Sequence[ColumnElement[bool]] = (),
    by_due: bool = False,
    after: tuple[datetime, int] | None = None,
) -> Sequence[Case]:
    """Newest first, keyset-paginated by case number (stable while cases change); or by due
    time, earliest first, keyset on (due_at, number) (`after` the last row of a page)."""
    if by_due:
        query = (
            select(Case)
            .where(Case.due_at.is_not(None))
            .order_by(Case.due_at, Case.number)
            .limit(limit)
        )
        if after is not None:
            query = query.where(tuple_(Case.due_at, Case.number) > tuple_(*after))
    else:
        query = select(Case).order_by(Case.number.desc()).limit(limit)
    if before is not None:
        query = query.where(Case.number < before)
    result = await session.scalars(query.where(*_matching(filters, overdue, conditions)))
    return result.all()


async def count(
    session: AsyncSession,
    *,
    filters: dict[str, Any],
    overdue: bool | None,
    conditions: Sequence[ColumnElement[bool]],
    at_risk: ColumnElement[bool],
) -> tuple[int, int, int]:
    """How many cases match (as `page` would list them, every page), and of them how many are
    overdue and at risk: one aggregate query."""
    query = select(
        func.count(),
        func.count().filter(Case.overdue.is_(True)),
        func.count().filter(at_risk),
    ).where(*_matching(filters, overdue, conditions))
    total, late, risky = (await session.execute(query)).one()
    return total, late, risky


def _matching(
    filters: dict[str, Any], overdue: bool | None, conditions: Sequence[ColumnElement[bool]]
) -> list[ColumnElement[bool]]:
    where = [
        getattr(Case, column) == value for column, value in filters.items() if value is not None
    ]
    if overdue is not None:
        where.append(Case.overdue.is_(overdue))
    return [*where, *conditions]  # conditions: the caller's scope and the query's own


async def due_visits(
    session: AsyncSession,
    *,
    by: datetime,
    limit: int,
    conditions: Sequence[ColumnElement[bool]] = (),
    after: tuple[datetime, int] | None = None,
) -> Sequence[Case]:
    """回访: replied cases whose call is due, the longest waiting first, keyset on (visit due
    time, number) (`after` the last row of a page)."""
    query = (
        select(Case)
        .where(Case.status == "replied", Case.visit_due_at <= by)
        .order_by(Case.visit_due_at, Case.number)
        .limit(limit)
    )
    if after is not None:
        query = query.where(tuple_(Case.visit_due_at, Case.number) > tuple_(*after))
    for condition in conditions:  # the caller's scope
        query = query.where(condition)
    return (await session.scalars(query)).all()

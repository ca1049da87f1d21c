"""Tables: reference data (places, units, categories, policies, rules) and the case record."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    ColumnElement,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    Sequence,
    String,
    Text,
    and_,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from domain.sla import SlaPolicy

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {  # noqa: RUF012 (SQLAlchemy reads it as a class attribute)
        datetime: DateTime(timezone=True),
        dict[str, Any]: JSONB,
    }


# Case numbers (LC-2026-000123) come from one sequence: unique, ordered, never reused.
case_number_seq = Sequence("case_number_seq", metadata=Base.metadata)


# ---- reference data ----------------------------------------------------------------------------


class Community(Base):
    __tablename__ = "communities"

    code: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    secretary: Mapped[str | None] = mapped_column(String(100))
    boundary: Mapped[dict[str, Any] | None] = mapped_column(JSONB)  # a GeoJSON Polygon


class Grid(Base):
    __tablename__ = "grids"

    code: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    community: Mapped[str] = mapped_column(ForeignKey("communities.code"), index=True)
    forces: Mapped[list[str]] = mapped_column(JSONB, default=list)
    boundary: Mapped[dict[str, Any] | None] = mapped_column(JSONB)  # a GeoJSON Polygon


class GridWorker(Base):
    __tablename__ = "grid_workers"

    code: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    grid: Mapped[str] = mapped_column(ForeignKey("grids.code"), index=True)
    phone: Mapped[str | None] = mapped_column(String(32))


class Unit(Base):
    __tablename__ = "units"

    code: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(32), index=True)
    community: Mapped[str | None] = mapped_column(ForeignKey("communities.code"))
    grid: Mapped[str | None] = mapped_column(ForeignKey("grids.code"))
    agency: Mapped[str | None] = mapped_column(String(32))
    # Where its notifications go (an SMS gateway's number): looked up when one is sent.
    duty_phone: Mapped[str | None] = mapped_column(String(32))


class Category(Base):
    __tablename__ = "categories"

    code: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    kinds: Mapped[list[str]] = mapped_column(JSONB, default=list)
    default_severity: Mapped[str] = mapped_column(String(16))
    unit_kind: Mapped[str] = mapped_column(String(32))
    government_matter: Mapped[bool] = mapped_column(Boolean, default=True)
    linkage: Mapped[bool] = mapped_column(Boolean, default=False)
    # The agencies that must report (吹哨报到) when a case of this category opens a linkage.
    linkage_agencies: Mapped[list[str]] = mapped_column(JSONB, default=list, server_default="[]")


def _default(name: str) -> dict[str, Any]:
    """A policy column's default, taken from SlaPolicy (the one place the defaults live)."""
    value = SlaPolicy.model_fields[name].default
    return {"default": value, "server_default": str(value)}


class SlaPolicyRow(Base):
    __tablename__ = "sla_policies"

    code: Mapped[str] = mapped_column(String(64), primary_key=True)
    severity: Mapped[str] = mapped_column(String(16))
    category: Mapped[str | None] = mapped_column(ForeignKey("categories.code"))
    accept: Mapped[str] = mapped_column(String(16))
    contact: Mapped[str] = mapped_column(String(16))
    reply: Mapped[str] = mapped_column(String(16))
    rating_window: Mapped[str] = mapped_column(String(16))
    # Warning at this share of each limit; after a miss, one ladder step per `escalate_every`.
    warn_share: Mapped[float] = mapped_column(Float, **_default("warn_share"))
    escalate_every: Mapped[str] = mapped_column(String(16), **_default("escalate_every"))
    # Extensions (延期) and suspensions (挂起): how often and how long.
    max_extensions: Mapped[int] = mapped_column(Integer, **_default("max_extensions"))
    max_extension: Mapped[str] = mapped_column(String(16), **_default("max_extension"))
    max_suspensions: Mapped[int] = mapped_column(Integer, **_default("max_suspensions"))
    max_suspended: Mapped[str] = mapped_column(String(16), **_default("max_suspended"))
    # Multi-agency linkage: returned this often makes a case big; each agency's limits.
    returns_for_linkage: Mapped[int] = mapped_column(Integer, **_default("returns_for_linkage"))
    agency_report: Mapped[str] = mapped_column(String(16), **_default("agency_report"))
    agency_done: Mapped[str] = mapped_column(String(16), **_default("agency_done"))
    # 回访: when the call is due, unreached attempts that close a case, app ratings verified.
    visit_after: Mapped[str] = mapped_column(String(16), **_default("visit_after"))
    visit_attempts: Mapped[int] = mapped_column(Integer, **_default("visit_attempts"))
    verification_share: Mapped[float] = mapped_column(Float, **_default("verification_share"))
    chases_per_day: Mapped[int] = mapped_column(Integer, **_default("chases_per_day"))
    # 申诉: the unit's window to appeal, and the supervisor's limit to rule.
    appeal_window: Mapped[str] = mapped_column(String(16), **_default("appeal_window"))
    appeal: Mapped[str] = mapped_column(String(16), **_default("appeal"))
    # A disputed return is ruled within `ruling`; a closed case reopens within `reopen_window`.
    ruling: Mapped[str] = mapped_column(String(16), **_default("ruling"))
    reopen_window: Mapped[str] = mapped_column(String(16), **_default("reopen_window"))


class RungRow(Base):
    """A rung of the escalation ladder (config/ladder.yaml): who is told (and may take the case
    over) at that level after a missed deadline. `unit` is a unit code or "@committee"."""

    __tablename__ = "ladder_rungs"

    level: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(64))
    unit: Mapped[str] = mapped_column(String(32))
    takes_over: Mapped[bool] = mapped_column(Boolean, default=False, server_default="false")


class Holiday(Base):
    """A working-day exception (config/holidays.yaml): a weekday off, or a weekend day on (调休).
    Read by routing into the span each case records; correctable without a release."""

    __tablename__ = "holidays"

    day: Mapped[date] = mapped_column(primary_key=True)
    working: Mapped[bool] = mapped_column(Boolean)
    name: Mapped[str | None] = mapped_column(String(64))


class RoutingRuleRow(Base):
    __tablename__ = "routing_rules"

    code: Mapped[str] = mapped_column(String(32), primary_key=True)
    category: Mapped[str] = mapped_column(ForeignKey("categories.code"), index=True)
    community: Mapped[str | None] = mapped_column(ForeignKey("communities.code"))
    grid: Mapped[str | None] = mapped_column(ForeignKey("grids.code"))
    # A unit code, or "@grid_team" / "@committee" for the team of the case's own place.
    unit: Mapped[str] = mapped_column(String(32))


# ---- the case record (written only by the case workflow's persistence activity) ----------------


class CaseIntakeKey(Base):
    """(channel, external_ref) -> case id: a repeated submission finds its case (rule 5)."""

    __tablename__ = "case_intakes"

    channel: Mapped[str] = mapped_column(String(16), primary_key=True)
    external_ref: Mapped[str] = mapped_column(String(128), primary_key=True)
    case_id: Mapped[str] = mapped_column(String(32), unique=True)
    number: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())


class Case(Base):
    __tablename__ = "cases"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    number: Mapped[int] = mapped_column(BigInteger, unique=True)
    status: Mapped[str] = mapped_column(String(16))
    channel: Mapped[str] = mapped_column(String(16))
    external_ref: Mapped[str | None] = mapped_column(String(128))
    category: Mapped[str] = mapped_column(String(64))
    severity: Mapped[str | None] = mapped_column(String(16))
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text)
    address: Mapped[str] = mapped_column(String(200))
    community: Mapped[str | None] = mapped_column(String(32))
    grid: Mapped[str | None] = mapped_column(String(32))
    lat: Mapped[float | None] = mapped_column(Float)
    lon: Mapped[float | None] = mapped_column(Float)
    reporter_name: Mapped[str | None] = mapped_column(String(200))
    reporter_phone: Mapped[str | None] = mapped_column(String(32))
    reporter_email: Mapped[str | None] = mapped_column(String(254))
    # The point as the caller gave it, when it was one (lat/lon above are its WGS-84).
    given_crs: Mapped[str | None] = mapped_column(String(8))
    given_lat: Mapped[float | None] = mapped_column(Float)
    given_lon: Mapped[float | None] = mapped_column(Float)
    photo_url: Mapped[str | None] = mapped_column(String(500))
    # Intake found an open case of the same category nearby; the dispatcher may merge.
    possible_duplicate_of: Mapped[str | None] = mapped_column(String(32))
    merged_into: Mapped[str | None] = mapped_column(String(32))
    # 拆分 (0017): the case a child was split from; a parent's children as it shows them.
    parent: Mapped[str | None] = mapped_column(String(32))
    children: Mapped[list[dict[str, Any]]] = mapped_column(
        JSONB, default=list, server_default=text("'[]'::jsonb")
    )
    unit: Mapped[str | None] = mapped_column(String(32))
    rule: Mapped[str | None] = mapped_column(String(32))
    overdue: Mapped[bool] = mapped_column(Boolean, default=False)
    returns: Mapped[int] = mapped_column(Integer, default=0)
    rehandled: Mapped[bool] = mapped_column(Boolean, default=False)
    grade: Mapped[str | None] = mapped_column(String(32))
    solved: Mapped[bool | None] = mapped_column(Boolean)
    outcome: Mapped[str | None] = mapped_column(String(16))
    # Escalation ladder step reached (0 = still with the unit), linkage state, suspension and
    # the supervisor review queue: what supervisors filter on.
    escalation_level: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    linkage: Mapped[str | None] = mapped_column(String(16))
    suspended: Mapped[bool] = mapped_column(Boolean, default=False, server_default="false")
    review: Mapped[str | None] = mapped_column(String(16))
    # The earliest pending deadline and its warning point: what overdue / at-risk lists use.
    due_at: Mapped[datetime | None]
    warn_at: Mapped[datetime | None]
    deadlines: Mapped[list[dict[str, Any]]] = mapped_column(JSONB, default=list)
    received_at: Mapped[datetime]
    dispatched_at: Mapped[datetime | None]
    accepted_at: Mapped[datetime | None]
    contacted_at: Mapped[datetime | None]
    replied_at: Mapped[datetime | None]
    rated_at: Mapped[datetime | None]
    closed_at: Mapped[datetime | None]
    # 回访: when the return visit's call is due (the visits queue, migration 0012).
    visit_due_at: Mapped[datetime | None]
    verification: Mapped[str | None] = mapped_column(String(16))  # of an app rating
    chases: Mapped[int] = mapped_column(Integer, default=0, server_default="0")  # 催促, 0013
    # 申诉 (migration 0015): the latest appeal, the grounds appealed, and why an exempted case
    # left its unit's score (核减: the scores leave it out; the raw figures keep it).
    appeal: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    appealed: Mapped[list[str]] = mapped_column(JSONB, default=list, server_default="[]")
    exemption: Mapped[str | None] = mapped_column(Text)
    assists: Mapped[int] = mapped_column(Integer, default=0, server_default="0")  # 协办, 0018
    # Returns and reassignments, times sent back to the unit (重办), a routing dispute and the
    # unit its ruling bound, and until when the resident may reopen it (migration 0019).
    handoffs: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    reopens: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    dispute: Mapped[str | None] = mapped_column(String(16))
    bound_unit: Mapped[str | None] = mapped_column(String(32))
    reopen_until: Mapped[datetime | None]
    last_seq: Mapped[int] = mapped_column(Integer)
    updated_at: Mapped[datetime] = mapped_column(server_default=func.now())

    __table_args__ = (
        Index("ix_cases_status_number", "status", "number"),
        Index("ix_cases_community_number", "community", "number"),
        Index("ix_cases_unit_number", "unit", "number"),
        Index("ix_cases_category_number", "category", "number"),
        Index("ix_cases_grid_number", "grid", "number"),
        Index("ix_cases_received_at", "received_at"),  # statistics: cases received in a period
        Index("ix_cases_status_visit_due_at", "status", "visit_due_at"),  # the visits queue
        Index("ix_cases_parent", "parent"),  # a parent's children
    )


class CaseEventRow(Base):
    """Append-only: every step with who and when, keyed by (case id, seq) so a retry is a no-op."""

    __tablename__ = "case_events"

    case_id: Mapped[str] = mapped_column(ForeignKey("cases.id"), primary_key=True)
    seq: Mapped[int] = mapped_column(Integer, primary_key=True)
    type: Mapped[str] = mapped_column(String(32))
    at: Mapped[datetime]
    actor: Mapped[str] = mapped_column(String(100))
    data: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
    # The fence of the workflow task that wrote it (migration 0022, db.cases.record).
    fence: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")

    # Open311's updates are a time window of events (bench/open311.py measures it).
    __table_args__ = (Index("ix_case_events_at", "at"),)


class Notification(Base):
    """The outbox: written in the same transaction as the event that causes it, keyed by
    (case id, event seq, recipient) so a retried activity never writes one twice; a sender
    delivers unsent rows and marks them sent. `kind` is the template code and `params` its
    values (migration 0016); the recipient's phone is looked up when it is sent."""

    __tablename__ = "notifications"

    id: Mapped[str] = mapped_column(String(120), primary_key=True)
    case_id: Mapped[str] = mapped_column(ForeignKey("cases.id"), index=True)
    seq: Mapped[int] = mapped_column(Integer)
    recipient: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(32))
    params: Mapped[dict[str, str]] = mapped_column(JSONB, default=dict, server_default="{}")
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())
    sent_at: Mapped[datetime | None]
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # Backoff and dead letters (migration 0011): not tried again before `next_attempt_at`;
    # given up at `dead_at` (a permanent refusal, or too many attempts), `last_error` says why.
    next_attempt_at: Mapped[datetime | None]
    dead_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    # Written by a workflow task that was lost (migration 0021): never sent from now on, and
    # taken over by the same notice (recipient, template, parameters) when the retried task
    # records it, so a notice that already went out does not go out twice (db.cases.record).
    superseded_at: Mapped[datetime | None]

    __table_args__ = (
        Index("ix_notifications_unsent", "created_at", postgresql_where=text("sent_at IS NULL")),
        Index("ix_notifications_dead", "dead_at", postgresql_where=text("dead_at IS NOT NULL")),
        Index(
            "ix_notifications_superseded",
            "case_id",
            postgresql_where=text("superseded_at IS NOT NULL"),
        ),
    )

    @classmethod
    def unsent(cls) -> ColumnElement[bool]:
        """Still to be sent, or to be sent again by an operator: neither sent nor set aside."""
        return and_(cls.sent_at.is_(None), cls.superseded_at.is_(None))


class RollupCounters:
    """The KPI counters both rollups keep, one column each (their definitions:
    domain.kpi.COUNTERS; db/rollup.py builds the tables and triggers from it)."""

    received: Mapped[int] = mapped_column(Integer, default=0)
    dispatched: Mapped[int] = mapped_column(Integer, default=0)
    closed: Mapped[int] = mapped_column(Integer, default=0)
    overdue: Mapped[int] = mapped_column(Integer, default=0)
    escalated: Mapped[int] = mapped_column(Integer, default=0)
    linked: Mapped[int] = mapped_column(Integer, default=0)
    assisted: Mapped[int] = mapped_column(Integer, default=0)
    returned: Mapped[int] = mapped_column(Integer, default=0)
    rejected: Mapped[int] = mapped_column(Integer, default=0)
    unrated: Mapped[int] = mapped_column(Integer, default=0)
    unreachable: Mapped[int] = mapped_column(Integer, default=0)
    split: Mapped[int] = mapped_column(Integer, default=0)
    rated: Mapped[int] = mapped_column(Integer, default=0)
    satisfied: Mapped[int] = mapped_column(Integer, default=0)
    basically_satisfied: Mapped[int] = mapped_column(Integer, default=0)
    unsatisfied: Mapped[int] = mapped_column(Integer, default=0)
    solved: Mapped[int] = mapped_column(Integer, default=0)
    accepted_on_time: Mapped[int] = mapped_column(Integer, default=0)
    replied: Mapped[int] = mapped_column(Integer, default=0)
    replied_on_time: Mapped[int] = mapped_column(Integer, default=0)
    reopened: Mapped[int] = mapped_column(Integer, default=0)  # migration 0019
    handed_off: Mapped[int] = mapped_column(Integer, default=0)  # migration 0019


class CaseRollup(RollupCounters, Base):
    """KPI counters per local day of receipt and place, kept by the `cases_rollup` trigger
    (db/rollup.py): read-only to the code. Empty strings stand for no community/grid/unit."""

    __tablename__ = "case_rollup"

    day: Mapped[date] = mapped_column(primary_key=True)
    community: Mapped[str] = mapped_column(String(32), primary_key=True)
    grid: Mapped[str] = mapped_column(String(32), primary_key=True)
    unit: Mapped[str] = mapped_column(String(32), primary_key=True)
    category: Mapped[str] = mapped_column(String(64), primary_key=True)
    channel: Mapped[str] = mapped_column(String(16), primary_key=True)


class CaseRollupMonth(RollupCounters, Base):
    """The same counters per local month, community, category and channel (db/rollup.py):
    what year-long reports read."""

    __tablename__ = "case_rollup_month"

    month: Mapped[date] = mapped_column(primary_key=True)
    community: Mapped[str] = mapped_column(String(32), primary_key=True)
    category: Mapped[str] = mapped_column(String(64), primary_key=True)
    channel: Mapped[str] = mapped_column(String(16), primary_key=True)


# ---- governance -------------------------------------------------------------------------------


class HotspotRow(Base):
    """A hot spot raised (migration 0007): written only by the hot spot workflow's activity."""

    __tablename__ = "hotspots"

    key: Mapped[str] = mapped_column(String(128), primary_key=True)
    grid: Mapped[str] = mapped_column(String(32))
    community: Mapped[str | None] = mapped_column(String(32))
    category: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16))
    governance_case: Mapped[str | None] = mapped_column(String(32))
    cases: Mapped[list[str]] = mapped_column(JSONB, default=list)
    raised_at: Mapped[datetime]
    closed_at: Mapped[datetime | None]

    __table_args__ = (Index("ix_hotspots_raised_at", "raised_at"),)

"""The case: what comes in, what can be done to it in which state, and what it looks like."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, HttpUrl, StringConstraints

from domain.appeal import Appeal
from domain.calendar import WorkingDays
from domain.common import ActionInput, Code, Email, Notice, Phone, ShortText, Text
from domain.crs import Crs, to_wgs84
from domain.escalation import Rung
from domain.linkage import LinkageView
from domain.sla import DeadlineKind, SlaPolicy


class Channel(StrEnum):
    hotline = "hotline"  # 12345
    app = "app"  # app or mini-program
    walk_in = "walk_in"
    letter = "letter"
    grid_patrol = "grid_patrol"  # reported by a grid worker on patrol
    open311 = "open311"
    proactive = "proactive"  # 主动治理: opened by gridcase itself (a hot spot, a recurring task)


# A case id: the prefix, the year, the number, and for a child case its place among the parent's
# children (LC-2026-000123-2).
CASE_ID_PATTERN = r"^[A-Z]{1,8}-\d{4}-\d{6,}(-\d{1,2})?$"


class Severity(StrEnum):
    normal = "normal"
    urgent = "urgent"  # public utility: water, power, gas, heating
    emergency = "emergency"  # threatens life or property
    major = "major"  # complex, several departments


class CaseStatus(StrEnum):
    received = "received"  # 受理: recorded, being routed
    dispatched = "dispatched"  # 派单: waiting for the unit to accept
    returned = "returned"  # 退单: back with the dispatcher
    in_progress = "in_progress"  # 办理
    replied = "replied"  # 答复: waiting for the resident's rating
    verifying = "verifying"  # 核查: a grid event replied by its unit, waiting for the on-site check
    resolved_on_site = "resolved_on_site"  # 就地解决 by the grid worker, waiting for the community
    split_ = "split"  # 拆分: waiting for the child cases it was split into
    closed = "closed"  # 办结


class Action(StrEnum):
    """Human actions: each is a workflow Update, an API route and an event type of the same name."""

    accept = "accept"
    return_ = "return"
    reassign = "reassign"
    # A routing dispute: the dispatcher disputes a unit's return; the governance centre rules
    # which unit must take the case (and that unit may not return it again).
    dispute = "dispute"
    rule_on_return = "rule_on_return"
    reject = "reject"
    contact = "contact"
    progress = "progress"
    reply = "reply"
    rate = "rate"
    # Supervision (督办): chase the unit, or push the case up the ladder by hand.
    urge = "urge"
    escalate = "escalate"
    # Time: 延期 (asked by the unit, decided by a supervisor) and 挂起 (the clock stops).
    request_extension = "request_extension"
    approve_extension = "approve_extension"
    deny_extension = "deny_extension"
    suspend = "suspend"
    resume = "resume"
    # Supervisor review after a second unsatisfied rating: close with a verdict, or re-open.
    review_close = "review_close"
    # 重办: the case goes back to its unit with a fresh reply deadline. One idea, two callers: a
    # supervisor's review (发回重办) and the resident, within the policy's window after closure.
    reopen = "reopen"
    # 吹哨: a dispatcher or supervisor opens a multi-agency linkage by hand.
    open_linkage = "open_linkage"
    # Grid events: 小事不出网格. The grid worker solves it on the spot (the community confirms),
    # or checks on site what the unit replied (核查).
    resolve_on_site = "resolve_on_site"
    confirm = "confirm"
    verify = "verify"
    # The dispatcher folds a duplicate into its master case.
    merge = "merge"
    # 回访: the return-visit desk calls the resident after the reply (domain/visit.py).
    visit = "visit"
    # The resident's voice on an open case (domain/voice.py): more information, a chaser (催促).
    add_info = "add_info"
    chase = "chase"
    # 申诉 (domain/appeal.py): the unit appeals an unsatisfied rating or a missed deadline; a
    # supervisor rules (upheld, or exempted: 核减).
    appeal = "appeal"
    rule_on_appeal = "rule_on_appeal"
    # 主办/协办: the lead unit asks for assisting units; a dispatcher or supervisor decides.
    request_assist = "request_assist"
    approve_assist = "approve_assist"
    deny_assist = "deny_assist"
    # 拆分: the dispatcher splits a request covering several matters into child cases.
    split_ = "split"  # `split` is str's own method, as `return` is a keyword


class Grade(StrEnum):
    satisfied = "satisfied"
    basically_satisfied = "basically_satisfied"
    unsatisfied = "unsatisfied"


class Outcome(StrEnum):
    rated = "rated"
    unrated = "unrated"  # no rating within the window: never counted as satisfied
    rejected = "rejected"  # 不予受理: not a government matter, still a closed, counted case
    self_resolved = "self_resolved"  # a grid event solved on the spot, confirmed by the community
    verified = "verified"  # a grid event whose fix the grid worker saw on site
    duplicate = "duplicate"  # merged into a master case, whose reply its reporter gets
    unreachable = "unreachable"  # the return visit never reached the resident: not satisfied
    split_ = "split"  # split into child cases, closed with the last of them (each counts itself)


class EventType(StrEnum):
    """System events; human actions use their Action value as the event type."""

    received = "received"
    dispatched = "dispatched"
    route_failed = "route_failed"
    deadline_warning = "deadline_warning"  # the reminder before a deadline
    deadline_missed = "deadline_missed"
    escalated = "escalated"  # one step up the ladder (automatic; by hand it is `escalate`)
    auto_resumed = "auto_resumed"  # suspended for longer than the policy allows
    rehandling = "rehandling"  # 重办 after an unsatisfied rating
    review_opened = "review_opened"  # unsatisfied again: a supervisor decides
    merged_in = "merged_in"  # a duplicate was merged into this case
    child_closed = "child_closed"  # a case this one was split into closed
    closed = "closed"


class Location(BaseModel):
    model_config = ConfigDict(extra="forbid")

    address: ShortText
    community: Code | None = None
    grid: Code | None = None
    lat: float | None = Field(default=None, ge=-90, le=90)
    lon: float | None = Field(default=None, ge=-180, le=180)
    crs: Crs = Field(
        default=Crs.wgs84,
        description="The system of lat/lon: wgs84 (GPS), gcj02 (Amap, Tencent) or bd09 (Baidu). "
        "Intake turns every point into WGS-84.",
    )

    def in_wgs84(self) -> Location:
        """The same place with its point in WGS-84, what gridcase stores and places by: a map
        app's point is 100 to 700 m off, more than a micro-grid is wide."""
        if self.lat is None or self.lon is None or self.crs is Crs.wgs84:
            return self.model_copy(update={"crs": Crs.wgs84})
        lat, lon = to_wgs84(self.lat, self.lon, self.crs)
        return self.model_copy(update={"lat": lat, "lon": lon, "crs": Crs.wgs84})


class Reporter(BaseModel):
    """Who filed the case and how to reach them: the jurisdiction's contact rule says which of
    phone and email a case needs (`missing_contact`)."""

    model_config = ConfigDict(extra="forbid")

    name: ShortText
    phone: Phone | None = None
    email: Email | None = None


class ContactRule(StrEnum):
    """What a jurisdiction asks of every reporter so the unit can reach them (联系诉求人)."""

    phone_or_email = "phone_or_email"
    phone = "phone"
    email = "email"


def missing_contact(reporter: Reporter, rule: ContactRule) -> str | None:
    """Why `reporter` cannot be filed under `rule`, or None when it can."""
    match rule:
        case ContactRule.phone_or_email if reporter.phone is None and reporter.email is None:
            return "a phone number or an email address is required"
        case ContactRule.phone if reporter.phone is None:
            return "a phone number is required"
        case ContactRule.email if reporter.email is None:
            return "an email address is required"
    return None


class CaseReceived(BaseModel):
    """What intake keeps in PostgreSQL only: the resident's own words and contact, and the
    place as they gave it (the workflow gets it in WGS-84)."""

    description: str
    reporter: Reporter
    at: datetime
    given: Location | None = None  # None: intake had no place of its own to keep


class CaseIntake(BaseModel):
    """The workflow's input: what the case is about and what it is routed on. The reporter and
    the description stay in PostgreSQL (written by intake before the workflow starts): no
    resident's personal data enters Temporal's history."""

    case_id: str
    number: int
    channel: Channel
    external_ref: str | None = None
    category: str
    severity: Severity | None = None  # None: the category's default severity
    title: str
    location: Location
    photo_url: str | None = None  # a grid worker's photo of what was found
    possible_duplicate_of: str | None = None  # an open case of the same kind nearby
    parent: str | None = None  # the case this one was split from (domain/split.py)
    # The history length that makes the workflow continue as new (None: its default; tests
    # lower it).
    history_limit: int | None = None


# Inputs of the human actions (one small object each, for the same reason).
class AcceptInput(ActionInput):
    note: Text | None = None


class ReturnInput(ActionInput):
    reason: Text


class ReassignInput(ActionInput):
    unit: Code
    reason: Text | None = None


class DisputeInput(ActionInput):
    reason: Text  # why the return is wrong


class RuleOnReturnInput(ActionInput):
    unit: Code  # must take the case, and may not return it again
    reason: Text


class RejectInput(ActionInput):
    reason: Text


class ContactInput(ActionInput):
    note: Text


class ProgressInput(ActionInput):
    note: Text


class ReplyInput(ActionInput):
    result: Text


class RateInput(ActionInput):
    grade: Grade
    solved: bool | None = None  # does the resident say the problem was solved (resolution rate)
    comment: Text | None = None


class UrgeInput(ActionInput):
    note: Text


class EscalateInput(ActionInput):
    reason: Text


class ExtensionRequestInput(ActionInput):
    reason: Text
    due_at: AwareDatetime  # the reply deadline asked for


class ExtensionDecisionInput(ActionInput):
    note: Text | None = None


class SuspendInput(ActionInput):
    reason: Text


class ResumeInput(ActionInput):
    note: Text | None = None


class ResolveOnSiteInput(ActionInput):
    evidence_url: HttpUrl  # the photo after
    note: Text


class ConfirmInput(ActionInput):
    note: Text | None = None


class VerifyInput(ActionInput):
    fixed: bool
    note: Text | None = None
    evidence_url: HttpUrl | None = None


class MergeInput(ActionInput):
    into: Annotated[str, StringConstraints(pattern=CASE_ID_PATTERN)]
    reason: Text | None = None


class MergedCase(BaseModel):
    """What a duplicate tells its master when it is merged in."""

    case_id: str
    title: str
    actor: str


class ChildView(BaseModel):
    """One of the child cases a case was split into, as the parent shows it."""

    id: str
    category: str
    title: str
    outcome: Outcome | None = None  # None while it is open
    result: str | None = None  # its unit's reply, gathered into the parent's


class ReviewCloseInput(ActionInput):
    verdict: Text


class ReopenInput(ActionInput):
    reason: Text


class Deadline(BaseModel):
    kind: DeadlineKind
    due_at: datetime
    met_at: datetime | None = None
    missed: bool = False
    started_at: datetime | None = None
    warn_at: datetime | None = None  # the reminder
    warned: bool = False
    climbs: int = 0  # rungs climbed because this deadline stayed unmet
    original_due_at: datetime | None = None  # before an extension or a policy change: the KPI
    extended: bool = False  # a supervisor approved a later due time: a policy change leaves it


class ExtensionRequest(BaseModel):
    requested_by: str
    reason: str
    due_at: datetime


class AssistRequest(BaseModel):
    """The lead unit's request for assisting units (协办), waiting for a decision."""

    requested_by: str
    units: list[str]
    reason: str


class CaseEvent(BaseModel):
    """One step of the record, appended to `case_events` under (case id, seq)."""

    seq: int
    type: str
    at: datetime
    actor: str
    data: dict[str, Any] = {}


class CaseView(BaseModel):
    """The live state of a case, as the workflow query and the API show it."""

    id: str
    number: int
    status: CaseStatus
    channel: Channel
    external_ref: str | None
    category: str
    severity: Severity | None
    title: str
    description: str | None = None  # kept in PostgreSQL only: the API adds it from the row
    address: str
    community: str | None
    grid: str | None
    unit: str | None
    rule: str | None
    overdue: bool
    returns: int
    rehandled: bool
    grade: Grade | None
    solved: bool | None
    outcome: Outcome | None
    received_at: datetime
    dispatched_at: datetime | None
    accepted_at: datetime | None
    contacted_at: datetime | None
    replied_at: datetime | None
    rated_at: datetime | None
    closed_at: datetime | None
    deadlines: list[Deadline]
    allowed_actions: list[Action]
    last_seq: int
    escalation_level: int = 0  # rungs of the ladder climbed
    suspended: bool = False
    extension: ExtensionRequest | None = None  # waiting for a supervisor's decision
    assist: AssistRequest | None = None  # 协办 asked for, waiting for a decision
    assists: int = 0  # assisting units brought in (协办 approved)
    linkage: LinkageView | None = None
    review: str | None = None
    lat: float | None = None
    lon: float | None = None
    photo_url: str | None = None
    possible_duplicate_of: str | None = None
    merged_into: str | None = None
    merged: list[str] = []  # duplicates merged into this case
    # The return visit: when the call is due, unreached attempts so far, and a verification
    # call's finding on an app rating (pending / agrees / disagrees).
    visit_due_at: datetime | None = None
    unreached_attempts: int = 0
    verification: str | None = None
    chases: int = 0  # the resident's chasers (催促)
    # 申诉: the latest appeal, the grounds appealed so far, and why an exempted case left its
    # unit's score (核减).
    appeal: Appeal | None = None
    appealed: list[str] = []
    exemption: str | None = None
    parent: str | None = None  # split from this case
    children: list[ChildView] = []  # split into these cases
    # Hand-offs (returns and reassignments), times sent back to the unit (reopen), a routing
    # dispute (pending / ruled) and the unit a ruling bound to the case.
    handoffs: int = 0
    reopens: int = 0
    dispute: str | None = None
    bound_unit: str | None = None
    reopen_until: datetime | None = None  # a closed case: the resident may reopen it until then


class Routed(BaseModel):
    """What the routing activity decided from the reference data, recorded in the history so a
    case's deadlines never depend on a table's or a library's later state."""

    unit: str | None
    rule: str | None
    reason: str
    community: str | None
    grid: str | None
    severity: Severity
    policy: SlaPolicy
    working_days: WorkingDays = WorkingDays()
    ladder: list[Rung] = []
    grid_team: str | None = None  # the team of the case's grid: it checks grid events on site
    committee: str | None = None  # the residents' committee of the case's community
    # Multi-agency linkage: does the category need it, and who must report.
    needs_linkage: bool = False
    linkage_agencies: list[str] = []


class CaseRecord(BaseModel):
    """Everything the persistence activity writes for one state change: the view, new events
    and the notifications they cause."""

    case: CaseView
    events: list[CaseEvent]
    notifications: list[Notice] = []
    # Which workflow task wrote it, in order (workflows/fence.py): what a task that saw more of
    # the case's history wrote is never replaced by a task that saw less.
    fence: int = 0

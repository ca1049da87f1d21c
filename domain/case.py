"""The case: what comes in, what can be done to it in which state, and what it looks like."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, HttpUrl, StringConstraints

from domain.common import ActionInput, Code, Notice, Phone, ShortText, Text
from domain.crs import Crs, to_wgs84
from domain.escalation import LadderStep
from domain.linkage import LinkageView
from domain.sla import DeadlineKind


class Channel(StrEnum):
    hotline = "hotline"  # 12345
    app = "app"  # app or mini-program
    walk_in = "walk_in"
    letter = "letter"
    grid_patrol = "grid_patrol"  # reported by a grid worker on patrol
    open311 = "open311"
    proactive = "proactive"  # 主动治理: opened by gridcase itself (a hot spot, a recurring task)


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
    closed = "closed"  # 办结


class Action(StrEnum):
    """Human actions: each is a workflow Update, an API route and an event type of the same name."""

    accept = "accept"
    return_ = "return"
    reassign = "reassign"
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
    closed = "closed"


# What may be done in each state: the validators, the workflow query and the API's 409 body all
# read this one table.
ALLOWED_ACTIONS: dict[CaseStatus, tuple[Action, ...]] = {
    CaseStatus.received: (),
    CaseStatus.dispatched: (
        Action.accept,
        Action.return_,
        Action.reassign,
        Action.reject,
        Action.urge,
        Action.escalate,
        Action.open_linkage,
        Action.resolve_on_site,
        Action.merge,
    ),
    CaseStatus.returned: (Action.reassign, Action.reject, Action.escalate, Action.merge),
    CaseStatus.in_progress: (
        Action.contact,
        Action.progress,
        Action.reply,
        Action.urge,
        Action.escalate,
        Action.request_extension,
        Action.approve_extension,
        Action.deny_extension,
        Action.suspend,
        Action.open_linkage,
        Action.resolve_on_site,
        Action.merge,
    ),
    CaseStatus.replied: (Action.rate,),
    CaseStatus.verifying: (Action.verify,),
    CaseStatus.resolved_on_site: (Action.confirm,),
    CaseStatus.closed: (),
}
# While the clock is stopped the unit may only note progress or resume.
SUSPENDED_ACTIONS = (Action.progress, Action.resume)
# While a supervisor reviews a twice-unsatisfied case, only the supervisor acts.
REVIEW_ACTIONS = (Action.review_close, Action.reopen)


def allowed_actions(
    status: CaseStatus,
    contacted: bool,
    *,
    suspended: bool = False,
    extension_requested: bool = False,
    in_review: bool = False,
    linkage_open: bool = False,
    grid_event: bool = False,
) -> list[Action]:
    """The table, narrowed by the loop's order (contact the resident once, before replying), by
    a stopped clock, and by whether an extension request waits for a decision."""
    if suspended:
        return list(SUSPENDED_ACTIONS)
    if in_review:
        return list(REVIEW_ACTIONS)
    # While agencies work on their parts the lead unit cannot reply, nor open a second linkage.
    drop: set[Action] = {Action.reply, Action.open_linkage} if linkage_open else set()
    if not grid_event or linkage_open:  # only a grid worker's own event is solved on the spot
        drop.add(Action.resolve_on_site)
    if status is CaseStatus.in_progress:
        drop.add(Action.contact if contacted else Action.reply)
        if extension_requested:
            drop.add(Action.request_extension)
        else:
            drop |= {Action.approve_extension, Action.deny_extension}
    return [a for a in ALLOWED_ACTIONS[status] if a not in drop]


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
    model_config = ConfigDict(extra="forbid")

    name: ShortText
    phone: Phone


class CaseIntake(BaseModel):
    """The workflow's input: one object, so fields can be added without breaking running cases."""

    case_id: str
    number: int
    channel: Channel
    external_ref: str | None = None
    category: str
    severity: Severity | None = None  # None: the category's default severity
    title: str
    description: str
    location: Location
    reporter: Reporter
    photo_url: str | None = None  # a grid worker's photo of what was found
    possible_duplicate_of: str | None = None  # an open case of the same kind nearby
    # The case's state when its workflow continued as new (None on the first run), and the
    # history length that triggers it (None: the workflow's default; tests lower it).
    carried: CaseCarry | None = None
    history_limit: int | None = None


# Inputs of the human actions (one small object each, for the same reason).
class AcceptInput(ActionInput):
    note: Text | None = None


class ReturnInput(ActionInput):
    reason: Text


class ReassignInput(ActionInput):
    unit: Code
    reason: Text | None = None


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
    into: Annotated[str, StringConstraints(pattern=r"^[A-Z]{1,8}-\d{4}-\d{6,}$")]
    reason: Text | None = None


class MergedCase(BaseModel):
    """What a duplicate tells its master when it is merged in."""

    case_id: str
    title: str
    actor: str


class ReviewCloseInput(ActionInput):
    verdict: Text


class ReopenInput(ActionInput):
    reason: Text


class Deadline(BaseModel):
    kind: DeadlineKind
    due_at: datetime
    met_at: datetime | None = None
    missed: bool = False
    # Reminder and ladder bookkeeping (absent on cases started before the ladder existed).
    started_at: datetime | None = None
    warn_at: datetime | None = None
    warned: bool = False
    escalations: int = 0
    original_due_at: datetime | None = None  # before an approved extension: the on-time KPI


class ExtensionRequest(BaseModel):
    requested_by: str
    reason: str
    due_at: datetime


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
    description: str
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
    escalation_level: int = 0
    suspended: bool = False
    extension: ExtensionRequest | None = None  # waiting for a supervisor's decision
    linkage: LinkageView | None = None
    review: str | None = None
    lat: float | None = None
    lon: float | None = None
    photo_url: str | None = None
    possible_duplicate_of: str | None = None
    merged_into: str | None = None
    merged: list[str] = []  # duplicates merged into this case


class Routed(BaseModel):
    """What the routing activity decided, with the policy the deadlines come from."""

    unit: str | None
    rule: str | None
    reason: str
    community: str | None
    grid: str | None
    severity: Severity
    accept: str
    contact: str
    reply: str
    rating_window: str
    # The rest of the policy and the ladder; defaults keep cases routed before they existed.
    warn_share: float = 0.8
    escalate_every: str = "4h"
    max_extensions: int = 1
    max_extension: str = "10wd"
    max_suspensions: int = 2
    max_suspended: str = "15d"
    ladder: list[LadderStep] = []
    grid_team: str | None = None  # the team of the case's grid: it checks grid events on site
    # Multi-agency linkage: does the category need it, who must report, and their limits.
    needs_linkage: bool = False
    linkage_agencies: list[str] = []
    returns_for_linkage: int = 2
    agency_report: str = "2h"
    agency_done: str = "5wd"


class CaseCarry(BaseModel):
    """Everything a case workflow knows, carried into its next run by continue-as-new so a case
    that lives for weeks keeps a bounded history; invisible to the API (same workflow id)."""

    status: CaseStatus
    routed: Routed | None
    unit: str | None
    rule: str | None
    deadlines: list[Deadline]
    overdue: bool
    returns: int
    rehandled: bool
    grade: Grade | None
    solved: bool | None
    outcome: Outcome | None
    received_at: datetime
    stamps: dict[str, datetime]
    seq: int
    reporter_saved: bool
    ladder_on: bool
    linkage_on: bool
    level: int
    extension: ExtensionRequest | None
    extensions: int
    suspended_at: datetime | None
    suspensions: int
    review: str | None
    linkage: LinkageView | None
    linkages: int
    result: str | None = None
    merged: list[str] = []


class CaseRecord(BaseModel):
    """Everything the persistence activity writes for one state change: the view, new events
    and the notifications they cause."""

    case: CaseView
    reporter: Reporter | None = None  # sent once, with the first record
    events: list[CaseEvent]
    notifications: list[Notice] = []


CaseIntake.model_rebuild()  # CaseCarry is defined after it

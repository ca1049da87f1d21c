"""Who may do what: one table of role × action, and the scope each role acts in. The API checks
it before anything reaches Temporal, and the case workflow's validators check it again, so an
action is refused the same way whoever sends it."""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, ConfigDict


class Role(StrEnum):
    dispatcher = "dispatcher"  # the governance centre's dispatchers: every case
    unit_handler = "unit_handler"  # one unit's staff: that unit's cases
    grid_worker = "grid_worker"  # 网格员: the cases of their grids
    supervisor = "supervisor"  # a community (or, with no community, the whole subdistrict)
    agency = "agency"  # a linkage member: the cases it was summoned to
    operator = "operator"  # IT operations: reads everything, changes nothing
    admin = "admin"  # reference data, and every action (the system's owner)
    resident = "resident"  # a per-case token from intake: read it, rate it
    visitor = "visitor"  # 回访 staff of the hotline office: call residents back, every case


class Principal(BaseModel):
    """The authenticated caller, from the bearer token."""

    model_config = ConfigDict(frozen=True)

    subject: str
    role: Role
    unit: str | None = None  # unit_handler, agency
    grids: tuple[str, ...] = ()  # grid_worker
    community: str | None = None  # supervisor (None: the whole subdistrict)
    case_id: str | None = None  # resident

    @property
    def actor(self) -> str:
        """What the record says did it: who, and for which unit."""
        return f"{self.subject}@{self.unit}" if self.unit else self.subject


class CaseScope(BaseModel):
    """What the scope rules need to know about one case."""

    case_id: str
    unit: str | None = None  # the unit it is dispatched to
    grid: str | None = None
    community: str | None = None
    committee: str | None = None  # its community's residents' committee (reads and confirms)
    agencies: tuple[str, ...] = ()  # summoned to its linkage


class Visibility(BaseModel):
    """The cases a principal may see, as data: every case, or the cases that match any one
    field. `in_scope` applies it to one case; the API turns the same value into SQL for lists,
    the review queue and statistics. One definition of scope, read three ways."""

    model_config = ConfigDict(frozen=True)

    everything: bool = False
    units: tuple[str, ...] = ()  # dispatched to one of these units
    committees: tuple[str, ...] = ()  # in the community of one of these committees
    grids: tuple[str, ...] = ()
    communities: tuple[str, ...] = ()
    summoned: tuple[str, ...] = ()  # one of these agencies was summoned to its linkage
    case_ids: tuple[str, ...] = ()

    def admits(self, case: CaseScope) -> bool:
        return (
            self.everything
            or case.unit in self.units
            or case.committee in self.committees
            or case.grid in self.grids
            or case.community in self.communities
            or any(agency in case.agencies for agency in self.summoned)
            or case.case_id in self.case_ids
        )


ALL_ROLES = frozenset(Role)
STAFF = ALL_ROLES - {Role.resident}
HANDLER = frozenset({Role.unit_handler})
SUPERVISION = frozenset({Role.supervisor, Role.dispatcher})

# action -> the roles that may take it (admin may take every action).
PERMISSIONS: dict[str, frozenset[Role]] = {
    "read": ALL_ROLES,
    "list": STAFF,
    "reference": STAFF,
    "create": frozenset({Role.dispatcher, Role.grid_worker, Role.resident}),
    "accept": HANDLER,
    "return": HANDLER,
    "contact": HANDLER,
    "progress": HANDLER,
    "reply": HANDLER,
    "request_extension": HANDLER,
    "request_assist": HANDLER,  # the lead unit's own staff (the case is dispatched to it)
    "approve_assist": SUPERVISION,
    "deny_assist": SUPERVISION,
    "suspend": HANDLER,
    "resume": HANDLER,
    "reassign": SUPERVISION,
    # A routing dispute: the dispatcher disputes a return, the governance centre rules on it.
    "dispute": frozenset({Role.dispatcher}),
    "rule_on_return": frozenset({Role.supervisor}),
    "reject": frozenset({Role.dispatcher}),
    "merge": frozenset({Role.dispatcher}),
    "split": frozenset({Role.dispatcher}),
    "visit": frozenset({Role.dispatcher, Role.visitor}),
    # The resident's voice: with its token, or through the hotline's dispatcher.
    "add_info": frozenset({Role.resident, Role.dispatcher}),
    "chase": frozenset({Role.resident, Role.dispatcher}),
    "visits": frozenset({Role.dispatcher, Role.visitor, Role.supervisor, Role.operator}),
    "open_linkage": SUPERVISION,
    "urge": SUPERVISION,
    "escalate": SUPERVISION,
    "approve_extension": frozenset({Role.supervisor}),
    # 申诉: the case's unit appeals; a supervisor rules.
    "appeal": HANDLER,
    "rule_on_appeal": frozenset({Role.supervisor}),
    "deny_extension": frozenset({Role.supervisor}),
    "review_close": frozenset({Role.supervisor}),
    # One action, two callers (`may_reopen` says which one when): a supervisor's review sends
    # the case back (发回重办); after closure the resident reopens it (or the hotline for them).
    "reopen": frozenset({Role.supervisor, Role.resident, Role.dispatcher}),
    "rate": frozenset({Role.resident, Role.dispatcher}),  # the hotline's return visit counts
    "resolve_on_site": frozenset({Role.grid_worker}),
    "verify": frozenset({Role.grid_worker}),
    "confirm": frozenset({Role.unit_handler, Role.supervisor}),
    # A part of a linkage or an assist: the summoned agency's, or an assisting unit's staff.
    "report": frozenset({Role.agency, Role.unit_handler}),
    "agency_done": frozenset({Role.agency, Role.unit_handler}),
    "add_agency": SUPERVISION,
    "release_agency": SUPERVISION,
    "reviews": frozenset({Role.supervisor, Role.dispatcher, Role.operator}),
    "stats": frozenset({Role.supervisor, Role.dispatcher, Role.operator}),
    "codec": frozenset({Role.operator}),
    "schedules": frozenset({Role.supervisor, Role.dispatcher, Role.operator}),
    "pause_schedule": frozenset(),  # recurring tasks are the system owner's: admin only
    "change_policy": frozenset(),  # SLA policies are reference data: admin only
    "outbox": frozenset({Role.operator}),  # dead letters: who runs the system looks and requeues
}
# Roles that need a resident's phone number to do their job; everyone else sees it masked.
SEES_PHONE = frozenset(
    {Role.dispatcher, Role.unit_handler, Role.grid_worker, Role.visitor, Role.admin}
)


def may(principal: Principal, action: str) -> bool:
    """The role may take the action somewhere (scope aside)."""
    return principal.role is Role.admin or principal.role in PERMISSIONS.get(action, frozenset())


# Who reopens a case in review, and who after its closure (both within `reopen` above).
REOPENS_IN_REVIEW = frozenset({Role.supervisor})
REOPENS_AFTER_CLOSURE = frozenset({Role.resident, Role.dispatcher})


def may_reopen(principal: Principal, *, after_closure: bool) -> bool:
    """A supervisor's review reopens an open case; the resident's voice reopens a closed one."""
    roles = REOPENS_AFTER_CLOSURE if after_closure else REOPENS_IN_REVIEW
    return principal.role is Role.admin or principal.role in roles


def visibility(principal: Principal) -> Visibility:
    """Which cases the principal may see at all (outside them, a case does not exist for it)."""
    role, unit = principal.role, principal.unit
    if role in (Role.dispatcher, Role.visitor, Role.operator, Role.admin):
        return Visibility(everything=True)
    if role is Role.unit_handler and unit:
        # A unit's own cases and those it holds a part of (协办); a residents' committee also
        # reads its community's, to confirm them.
        return Visibility(units=(unit,), committees=(unit,), summoned=(unit,))
    if role is Role.grid_worker:
        return Visibility(grids=principal.grids)
    if role is Role.supervisor:
        if principal.community is None:  # the subdistrict's supervisors
            return Visibility(everything=True)
        return Visibility(communities=(principal.community,))
    if role is Role.agency and unit:
        return Visibility(units=(unit,), summoned=(unit,))
    if role is Role.resident and principal.case_id:
        return Visibility(case_ids=(principal.case_id,))
    return Visibility()


def in_scope(principal: Principal, case: CaseScope) -> bool:
    """The case is one the principal may see."""
    return visibility(principal).admits(case)


# What a residents' committee may do on a case of its community that is dispatched elsewhere.
COMMITTEE_ACTIONS = frozenset({"read", "confirm"})
# What a unit may do on a case it holds a part of (an assisting unit, 协办): its own part.
PART_ACTIONS = frozenset({"read", "report", "agency_done"})


# What only the subdistrict's governance centre decides (a supervisor with no community): a
# dispute between units is ruled above the communities they work in.
CENTRE_ACTIONS = frozenset({"rule_on_return"})


def permitted(principal: Principal, action: str, case: CaseScope) -> bool:
    """The principal may take `action` on this case: its role may, the case is in its scope,
    and whoever is in charge is responsible (谁主管谁负责): a unit signs for, contacts, replies,
    extends and suspends only the cases dispatched to it; its community's committee reads and
    confirms; only the governance centre rules on a disputed return. (An agency's own part of a
    linkage is checked against the part it names.)"""
    if not (may(principal, action) and in_scope(principal, case)):
        return False
    if action in CENTRE_ACTIONS and principal.role is Role.supervisor:
        return principal.community is None
    if principal.role is Role.unit_handler and principal.unit != case.unit:
        part = principal.unit in case.agencies and action in PART_ACTIONS
        return part or action in COMMITTEE_ACTIONS
    return True


def mask_phone(phone: str) -> str:
    """138****0002: enough to recognise, not to call."""
    return phone[:3] + "*" * max(0, len(phone) - 7) + phone[-4:] if len(phone) > 7 else "****"


def mask_email(email: str) -> str:
    """l***@example.com: enough to recognise, not to write to."""
    name, _, domain = email.partition("@")
    return f"{name[:1]}***@{domain}"

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
    """What the scope rules need to know about a case."""

    case_id: str
    unit: str | None = None
    grid: str | None = None
    community: str | None = None
    community_unit: str | None = None  # its residents' committee (confirms on-site solutions)
    agencies: tuple[str, ...] = ()  # summoned to its linkage


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
    "suspend": HANDLER,
    "resume": HANDLER,
    "reassign": SUPERVISION,
    "reject": frozenset({Role.dispatcher}),
    "merge": frozenset({Role.dispatcher}),
    "open_linkage": SUPERVISION,
    "urge": SUPERVISION,
    "escalate": SUPERVISION,
    "approve_extension": frozenset({Role.supervisor}),
    "deny_extension": frozenset({Role.supervisor}),
    "review_close": frozenset({Role.supervisor}),
    "reopen": frozenset({Role.supervisor}),
    "rate": frozenset({Role.resident, Role.dispatcher}),  # the hotline's return visit counts
    "resolve_on_site": frozenset({Role.grid_worker}),
    "verify": frozenset({Role.grid_worker}),
    "confirm": frozenset({Role.unit_handler, Role.supervisor}),
    "report": frozenset({Role.agency}),
    "agency_done": frozenset({Role.agency}),
    "add_agency": SUPERVISION,
    "release_agency": SUPERVISION,
    "reviews": frozenset({Role.supervisor, Role.dispatcher, Role.operator}),
    "stats": frozenset({Role.supervisor, Role.dispatcher, Role.operator}),
    "codec": frozenset({Role.operator}),
}
# Roles that need a resident's phone number to do their job; everyone else sees it masked.
SEES_PHONE = frozenset({Role.dispatcher, Role.unit_handler, Role.grid_worker, Role.admin})


def may(principal: Principal, action: str) -> bool:
    """The role may take the action somewhere (scope aside)."""
    return principal.role is Role.admin or principal.role in PERMISSIONS.get(action, frozenset())


def in_scope(principal: Principal, case: CaseScope) -> bool:
    """The case is one the principal may see at all (outside it, a case does not exist)."""
    role = principal.role
    if role in (Role.dispatcher, Role.operator, Role.admin):
        return True
    if role is Role.unit_handler:
        return principal.unit is not None and principal.unit in (case.unit, case.community_unit)
    if role is Role.grid_worker:
        return case.grid is not None and case.grid in principal.grids
    if role is Role.supervisor:
        return principal.community is None or case.community == principal.community
    if role is Role.agency:
        return principal.unit is not None and (
            principal.unit in case.agencies or principal.unit == case.unit
        )
    return case.case_id == principal.case_id  # resident


def mask_phone(phone: str) -> str:
    """138****0002: enough to recognise, not to call."""
    return phone[:3] + "*" * max(0, len(phone) - 7) + phone[-4:] if len(phone) > 7 else "****"

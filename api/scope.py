"""Scope in the API: the case a caller may see (one dependency, in the shape of Polar's
`AuthorizedOrder`), and the SQL conditions of the lists it may see.

Outside its scope a case does not exist for the caller (404), so a unit does not even learn
that another unit's case exists."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends
from sqlalchemy import ColumnElement, exists, false, or_, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.client import Client
from temporalio.service import RPCError

from api.auth import allowed
from api.deps import SessionsDep, TemporalDep
from api.errors import UnknownCase
from api.schemas import CaseId
from db import cases
from db.models import Case, CaseEventRow, Unit
from domain.linkage import PART_HOLDERS
from domain.permissions import CaseScope, Principal, Role, in_scope, visibility
from workflows.linkage import LinkageWorkflow, linkage_id

Reader = Annotated[Principal, Depends(allowed("read"))]


@dataclass(frozen=True)
class SeenCase:
    """A case the caller may see: its record, and what its scope was judged by."""

    row: Case
    scope: CaseScope


async def visible_case(
    sessions: async_sessionmaker[AsyncSession], temporal: Client, principal: Principal, case_id: str
) -> SeenCase:
    """The case, if the principal may see it; UnknownCase otherwise. Its transaction ends
    before any call to Temporal."""
    async with sessions.begin() as session:
        case = await cases.get(session, case_id)
        if case is None:
            raise UnknownCase(f"no case {case_id}", {"id": case_id})
        committee = await _committee(session, principal, case)
    scope = await _scope(temporal, principal, case, committee)
    if not in_scope(principal, scope):
        raise UnknownCase(f"no case {case_id}", {"id": case_id})
    return SeenCase(case, scope)


async def readable_case(
    case_id: CaseId, sessions: SessionsDep, temporal: TemporalDep, principal: Reader
) -> SeenCase:
    return await visible_case(sessions, temporal, principal, case_id)


# A route that shows one case takes it as `case: ReadableCase` (and the caller as `Reader`).
ReadableCase = Annotated[SeenCase, Depends(readable_case)]


async def _committee(session: AsyncSession, principal: Principal, case: Case) -> str | None:
    # Only what the caller's role is judged by is looked up, not on every request.
    if principal.role is not Role.unit_handler or principal.unit == case.unit:
        return None
    committee: str | None = await session.scalar(
        select(Unit.code).where(Unit.kind == "community", Unit.community == case.community)
    )
    return committee


async def _scope(
    temporal: Client, principal: Principal, case: Case, committee: str | None
) -> CaseScope:
    agencies: tuple[str, ...] = ()
    # Who holds a part (a summoned agency, an assisting unit): the live linkage says.
    if principal.role in PART_HOLDERS and case.linkage and principal.unit != case.unit:
        try:
            view = await temporal.get_workflow_handle(linkage_id(case.id)).query(
                LinkageWorkflow.state
            )
            agencies = tuple(a.unit for a in view.agencies)
        except RPCError:
            agencies = ()
    return CaseScope(
        case_id=case.id,
        unit=case.unit,
        grid=case.grid,
        community=case.community,
        committee=committee,
        agencies=agencies,
    )


def scope_conditions(principal: Principal) -> list[ColumnElement[bool]]:
    """The principal's visibility (domain/permissions.py) as SQL: the cases it may list."""
    seen = visibility(principal)
    if seen.everything:
        return []
    matches: list[ColumnElement[bool]] = []
    if seen.units:
        matches.append(Case.unit.in_(seen.units))
    if seen.committees:
        committees_communities = select(Unit.community).where(
            Unit.kind == "community", Unit.code.in_(seen.committees)
        )
        matches.append(Case.community.in_(committees_communities.scalar_subquery()))
    if seen.grids:
        matches.append(Case.grid.in_(seen.grids))
    if seen.communities:
        matches.append(Case.community.in_(seen.communities))
    if seen.case_ids:
        matches.append(Case.id.in_(seen.case_ids))
    for agency in seen.summoned:
        matches.append(summoned(agency))
    return [or_(*matches)] if matches else [false()]


def summoned(agency: str) -> ColumnElement[bool]:
    """The case's record says the agency was summoned to one of its linkages (the whistle named
    it, or the coordinator added it): the live linkage decides what it may do there."""
    return exists().where(
        CaseEventRow.case_id == Case.id,
        CaseEventRow.type.in_(("linkage_opened", "agency_added")),
        CaseEventRow.data.contains({"agencies": [agency]})
        | CaseEventRow.data.contains({"agency": agency}),
    )

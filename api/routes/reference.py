"""Read-only reference data: communities, micro-grids, units, categories."""

from __future__ import annotations

from fastapi import APIRouter
from sqlalchemy import select

from api.deps import SessionDep
from api.schemas import CategoryOut, CommunityOut, GridOut, UnitOut
from db import reference
from db.models import Category, Community, Grid, Unit

router = APIRouter(prefix="/v1", tags=["reference data"])


@router.get("/communities", response_model=list[CommunityOut])
async def communities(session: SessionDep) -> list[CommunityOut]:
    return [CommunityOut.model_validate(c) for c in await reference.list_all(session, Community)]


@router.get("/grids", response_model=list[GridOut])
async def grids(session: SessionDep, community: str | None = None) -> list[GridOut]:
    query = select(Grid).order_by(Grid.code)
    if community:
        query = query.where(Grid.community == community)
    return [GridOut.model_validate(g) for g in await session.scalars(query)]


@router.get("/units", response_model=list[UnitOut])
async def units(session: SessionDep, kind: str | None = None) -> list[UnitOut]:
    query = select(Unit).order_by(Unit.code)
    if kind:
        query = query.where(Unit.kind == kind)
    return [UnitOut.model_validate(u) for u in await session.scalars(query)]


@router.get("/categories", response_model=list[CategoryOut])
async def categories(session: SessionDep) -> list[CategoryOut]:
    return [CategoryOut.model_validate(c) for c in await reference.list_all(session, Category)]

"""Liveness and readiness."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from sqlalchemy import text

router = APIRouter(tags=["health"])


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz", responses={503: {"description": "PostgreSQL or Temporal is not ready"}})
async def readyz(request: Request) -> JSONResponse:
    checks = {"postgres": await _postgres(request), "temporal": await _temporal(request)}
    ready = all(v == "ok" for v in checks.values())
    return JSONResponse(
        {"status": "ready" if ready else "not_ready", "checks": checks},
        status_code=200 if ready else 503,
    )


async def _postgres(request: Request) -> str:
    try:
        async with asyncio.timeout(3), request.app.state.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
        return "ok"
    except Exception as error:  # readiness reports any failure, it never raises
        return f"error: {type(error).__name__}"


async def _temporal(request: Request) -> str:
    if request.app.state.temporal is None:
        return "not connected yet (retrying)"
    try:
        async with asyncio.timeout(3):
            await request.app.state.temporal.service_client.check_health()
        return "ok"
    except Exception as error:
        return f"error: {type(error).__name__}"

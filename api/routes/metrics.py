"""Prometheus' scrape endpoint: gridcase's HTTP counters and the case and outbox figures
(api/metrics.py). It names no case and no person, so it needs no token: keep it on the internal
network, as every Prometheus target is."""

from __future__ import annotations

from fastapi import APIRouter, Response
from prometheus_client import CONTENT_TYPE_LATEST

from api.deps import SessionDep
from api.metrics import exposition

router = APIRouter(tags=["health"])


@router.get("/metrics", response_class=Response, include_in_schema=False)
async def metrics(session: SessionDep) -> Response:
    return Response(await exposition(session), media_type=CONTENT_TYPE_LATEST)

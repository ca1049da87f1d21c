"""The FastAPI application: engine, sessions and Temporal client made once, in the lifespan."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import Depends, FastAPI
from fastapi.middleware.cors import CORSMiddleware

from api import console, errors
from api.auth import RateLimiter, allowed
from api.edge import Edge
from api.observe import Observe
from api.routes import (
    actions,
    cases,
    flow,
    health,
    hotspots,
    metrics,
    open311,
    outbox,
    policies,
    reference,
    reviews,
    schedules,
    scores,
    stats,
    visits,
)
from api.routes import codec as codec_routes
from core.config import Settings, get_settings
from core.temporal import codec, connect_with_backoff
from db.session import make_engine, make_sessionmaker

# How long start-up waits for Temporal before the API serves without it (and keeps connecting).
FIRST_CONNECT_SECONDS = 3.0


async def _connect(app: FastAPI, settings: Settings) -> None:
    app.state.temporal = await connect_with_backoff(settings)


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        engine = make_engine(settings)
        app.state.settings = settings
        app.state.engine = engine
        app.state.sessions = make_sessionmaker(engine)
        # Temporal is connected in the background: the API answers (503 for what needs Temporal,
        # /readyz says so) while Temporal is down or not up yet.
        app.state.temporal = None
        connecting = asyncio.create_task(_connect(app, settings))
        await asyncio.wait([connecting], timeout=FIRST_CONNECT_SECONDS)
        app.state.codec = codec(settings)
        app.state.intake_limiter = RateLimiter(settings.intake_rate_per_minute)
        try:
            yield
        finally:
            connecting.cancel()
            await engine.dispose()

    app = FastAPI(
        title="gridcase",
        version="0.1.0",
        summary="Dispatch for urban grid governance: every case a durable Temporal workflow.",
        lifespan=lifespan,
        docs_url=None,  # served by api.console.docs with local assets
        redoc_url=None,
    )
    errors.install(app)

    # The Temporal UI calls the codec server from the browser.
    app.add_middleware(
        CORSMiddleware,
        allow_origins=codec_routes.allowed_origins(settings),
        allow_methods=["POST"],
        allow_headers=["*"],
        allow_credentials=True,
    )

    app.add_middleware(Observe)
    # Outermost: control characters and oversized bodies never reach a route.
    app.add_middleware(Edge, max_body_bytes=settings.max_body_bytes)
    # Every route is authenticated except health, Open311 (its own api_key; its reads are public,
    # as the spec has them) and the codec server (which checks its own role).
    app.include_router(cases.router)
    app.include_router(actions.router)
    app.include_router(visits.router)
    app.include_router(reviews.router, dependencies=[Depends(allowed("reviews"))])
    app.include_router(stats.router, dependencies=[Depends(allowed("stats"))])
    app.include_router(scores.router, dependencies=[Depends(allowed("stats"))])
    app.include_router(flow.router, dependencies=[Depends(allowed("stats"))])
    app.include_router(hotspots.router, dependencies=[Depends(allowed("stats"))])
    app.include_router(schedules.router)
    app.include_router(policies.router)
    app.include_router(reference.router, dependencies=[Depends(allowed("reference"))])
    app.include_router(open311.router)
    app.include_router(health.router)
    app.include_router(metrics.router)
    app.include_router(outbox.router, dependencies=[Depends(allowed("outbox"))])
    app.include_router(codec_routes.router)
    console.mount(app)
    return app

"""The FastAPI application: engine, sessions and Temporal client made once, in the lifespan."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware

from api import errors
from api.routes import cases, health, open311, reference, reviews, stats
from api.routes import codec as codec_routes
from core.config import Settings, get_settings
from core.temporal import build_client, codec
from db.session import make_engine, make_sessionmaker


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        engine = make_engine(settings)
        app.state.settings = settings
        app.state.engine = engine
        app.state.sessions = make_sessionmaker(engine)
        app.state.temporal = await build_client(settings)
        app.state.codec = codec(settings)
        try:
            yield
        finally:
            await engine.dispose()

    app = FastAPI(
        title="gridcase",
        version="0.1.0",
        summary="Dispatch for urban grid governance: every case a durable Temporal workflow.",
        lifespan=lifespan,
    )
    errors.install(app)
    # The Temporal UI calls the codec server from the browser.
    app.add_middleware(
        CORSMiddleware,
        allow_origins=[settings.ui_origin],
        allow_methods=["POST"],
        allow_headers=["*"],
        allow_credentials=True,
    )
    app.include_router(cases.router)
    app.include_router(reviews.router)
    app.include_router(stats.router)
    app.include_router(open311.router)
    app.include_router(reference.router)
    app.include_router(health.router)
    app.include_router(codec_routes.router)
    return app

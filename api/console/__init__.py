"""The web console for the people who run cases (server-rendered, Simplified Chinese), and the
API's own /docs and /redoc, all with assets served from this package."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import RedirectResponse

from api.console import assets, docs, map, pages, stats
from api.console.web import SignInRequired


def mount(app: FastAPI) -> None:
    app.include_router(docs.router)
    app.include_router(pages.router)
    app.include_router(map.router)
    app.include_router(stats.router)
    app.mount(assets.STATIC_PATH, assets.static_files(), name="console-static")

    @app.exception_handler(SignInRequired)
    async def _sign_in(_: Request, __: SignInRequired) -> RedirectResponse:
        return RedirectResponse("/console/signin", status_code=303)

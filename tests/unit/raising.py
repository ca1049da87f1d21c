"""The API's error handlers on their own: an app whose one route raises what a test names."""

from __future__ import annotations

import httpx
from fastapi import FastAPI

from api.errors import install


async def answered_when_raising(raised: Exception, method: str, path: str) -> httpx.Response:
    """What the API answers when handling `method path` raised `raised`."""
    app = FastAPI()
    install(app)

    async def route() -> None:
        raise raised

    app.add_api_route(path, route, methods=[method])
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        return await client.request(method, path)

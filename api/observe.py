"""Each request's id and its count: plain ASGI middleware (Starlette's `@app.middleware("http")`
runs every request through a task group and memory streams, a measurable share of the API's CPU
under load; see the README's Benchmark)."""

from __future__ import annotations

import re
import uuid

from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.metrics import HTTP_REQUESTS
from core import logs

_CASE_PATH = re.compile(r"^/v1/cases/([^/]+)")


class Observe:
    """Each request gets an id (the caller's X-Request-ID, or a new one) that its log lines
    carry with the case id; the answer carries the id back and is counted by route template
    and status."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        rid = (Headers(scope=scope).get("x-request-id") or uuid.uuid4().hex)[:64]
        logs.request_id.set(rid)
        found = _CASE_PATH.match(scope["path"])
        logs.case_id.set(found.group(1) if found else None)
        status = 0

        async def answer(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                MutableHeaders(scope=message)["X-Request-ID"] = rid
            await send(message)

        await self.app(scope, receive, answer)
        # The router put the matched route in the scope (the template, not the case's id).
        route = getattr(scope.get("route"), "path", "unmatched")
        HTTP_REQUESTS.labels(route, scope["method"], str(status)).inc()

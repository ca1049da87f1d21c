"""The laptop stack's Temporal UI, read-only. The dev server's UI has no switch for write actions
(Start, Signal, Update, Reset, Cancel, Terminate are offered to whoever opens it), so `gridcase up`
serves it through this proxy: the UI's settings say every write action is off (the buttons go)
and any write request that still arrives is refused. Operators act on cases through the API or
the console, where the permission table applies. docker-compose's UI has the settings built in."""

from __future__ import annotations

import json
import re
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from starlette.applications import Starlette
from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

# What the UI reads from /api/v1/settings to decide which actions it offers.
WRITE_ACTIONS_OFF = {
    "DisableWriteActions": True,
    "WorkflowTerminateDisabled": True,
    "WorkflowCancelDisabled": True,
    "WorkflowSignalDisabled": True,
    "WorkflowUpdateDisabled": True,
    "WorkflowResetDisabled": True,
    "WorkflowPauseDisabled": True,
    "BatchActionsDisabled": True,
    "StartWorkflowDisabled": True,
    "ActivityCommandsDisabled": True,
}
# The one POST the UI reads with: a workflow query (its Queries tab and its metadata).
_QUERY = re.compile(r"^/api/v1/namespaces/[^/]+/workflows/[^/]+/(runs/[^/]+/)?query/[^/]+$")
_SAFE = {"GET", "HEAD", "OPTIONS"}
_HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "upgrade", "host"}


def read_only_ui(upstream: str) -> Starlette:
    """A Starlette app that serves the UI at `upstream` without its write actions."""
    client = httpx.AsyncClient(base_url=upstream, timeout=httpx.Timeout(60.0, connect=5.0))

    async def proxy(request: Request) -> Response:
        path = request.url.path
        if request.method not in _SAFE and not _QUERY.match(path):
            return JSONResponse(
                {"code": 7, "message": "this Temporal UI is read-only: act through gridcase"},
                status_code=403,
            )
        headers = [(k, v) for k, v in request.headers.items() if k.lower() not in _HOP_BY_HOP]
        sent = client.build_request(
            request.method,
            path,
            params=request.url.query,
            headers=headers,
            content=await request.body(),
        )
        answer = await client.send(sent, stream=True)
        if path == "/api/v1/settings" and answer.status_code == 200:
            settings = json.loads(await answer.aread())
            await answer.aclose()
            return JSONResponse({**settings, **WRITE_ACTIONS_OFF})
        response = StreamingResponse(
            answer.aiter_raw(),
            status_code=answer.status_code,
            background=BackgroundTask(answer.aclose),
        )
        response.raw_headers = [
            (k.encode("latin-1"), v.encode("latin-1"))
            for k, v in answer.headers.multi_items()
            if k.lower() not in _HOP_BY_HOP
        ]
        return response

    methods = ["GET", "HEAD", "OPTIONS", "POST", "PUT", "PATCH", "DELETE"]

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        yield
        await client.aclose()

    return Starlette(routes=[Route("/{path:path}", proxy, methods=methods)], lifespan=lifespan)


def free_port(host: str = "127.0.0.1") -> int:
    """A port nobody listens on now (the dev server's own UI hides behind the proxy on it)."""
    with socket.socket() as probe:
        probe.bind((host, 0))
        port: int = probe.getsockname()[1]
        return port

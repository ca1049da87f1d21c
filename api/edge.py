"""What the API refuses before any route runs, and the checks that keep hostile values out of
PostgreSQL: control characters in paths and queries, bodies over the size limit (counted as
they arrive, chunked or not), and instants PostgreSQL cannot hold."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from urllib.parse import unquote_to_bytes

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.errors import GridcaseError, InvalidQuery, error_body
from domain.calendar import SUBDISTRICT_TZ
from domain.common import CONTROL_CHARACTERS

# PostgreSQL's bigint, and the instants a timestamptz holds that Python can also write.
INT64_MAX = 2**63 - 1
_CONTROL = re.compile(CONTROL_CHARACTERS.encode())


class ControlCharacter(GridcaseError):
    """A path or query value with a control character (U+0000 and the other C0 controls; tab
    and newlines are text): PostgreSQL refuses NUL, and none of them belongs in a value."""

    status_code = 400
    code = "control_character"


class BodyTooLarge(GridcaseError):
    status_code = 413
    code = "body_too_large"


# Open311 clients get errors in their spec's shape, `[{"code", "description"}]`, here too.
OPEN311_PREFIX = "/open311/"


class Edge:
    """ASGI middleware: refuse control characters in the path and query, and bodies over
    `max_body_bytes`, counted chunk by chunk (a Content-Length can be absent or lie)."""

    def __init__(self, app: ASGIApp, max_body_bytes: int) -> None:
        self.app, self.max_body_bytes = app, max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope.get("raw_path") or scope["path"].encode()
        for part in (unquote_to_bytes(path), unquote_to_bytes(scope.get("query_string", b""))):
            if _CONTROL.search(part):
                error: GridcaseError = ControlCharacter("a control character in the path or query")
                await _answer(scope, send, error)
                return
        body = await self._read_body(receive)
        if body is None:
            limit = self.max_body_bytes
            error = BodyTooLarge(f"bodies are limited to {limit} bytes", {"limit": limit})
            await _answer(scope, send, error)
            return
        await self.app(scope, _replay(body, receive), send)

    async def _read_body(self, receive: Receive) -> list[Message] | None:
        """The request's body messages, or None once they pass the limit (nothing more is
        read). Bodies are small (a case is a few kilobytes), so holding them is cheap."""
        messages: list[Message] = []
        size = 0
        while True:
            message = await receive()
            messages.append(message)
            if message["type"] != "http.request":
                return messages
            size += len(message.get("body", b""))
            if size > self.max_body_bytes:
                return None
            if not message.get("more_body", False):
                return messages


def _replay(messages: list[Message], receive: Receive) -> Receive:
    pending = list(messages)

    async def replayed() -> Message:
        return pending.pop(0) if pending else await receive()

    return replayed


async def _answer(scope: Scope, send: Send, error: GridcaseError) -> None:
    if scope["path"].startswith(OPEN311_PREFIX):
        shaped: object = [{"code": error.status_code, "description": error.message}]
    else:
        shaped = error_body(error.code, error.message, error.details)
    body = json.dumps(shaped).encode()
    await send(
        {
            "type": "http.response.start",
            "status": error.status_code,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


def instant(value: datetime, field: str) -> datetime:
    """An aware instant PostgreSQL can store (naive means the subdistrict's local time), or
    InvalidQuery: a year-1 date east of UTC, or year 9999 west of it, overflows."""
    aware = value if value.tzinfo else value.replace(tzinfo=SUBDISTRICT_TZ)
    try:
        return aware.astimezone(UTC)
    except OverflowError:
        raise InvalidQuery(
            f"{field} is outside the dates this system holds", {"field": field}
        ) from None


def bounded(value: int, field: str) -> int:
    """An integer that fits PostgreSQL's bigint, or InvalidQuery."""
    if not -INT64_MAX <= value <= INT64_MAX:
        raise InvalidQuery(f"{field} is out of range", {"field": field, "max": INT64_MAX})
    return value

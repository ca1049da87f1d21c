"""One error type per meaning, mapped to HTTP once. Every error body has the same shape:
{"error": {"code": ..., "message": ..., "details": ...}}."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.exceptions import HTTPException as StarletteHTTPException
from temporalio.service import RPCError, RPCStatusCode

from db.session import sqlstate_of

RETRY_AFTER_SECONDS = 5

_log = logging.getLogger("gridcase.api")


class GridcaseError(Exception):
    status_code = 400
    code = "bad_request"

    def __init__(self, message: str, details: Any = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details


class UnknownCase(GridcaseError):
    status_code = 404
    code = "unknown_case"


class UnknownSchedule(GridcaseError):
    status_code = 404
    code = "unknown_schedule"


class UnknownPolicy(GridcaseError):
    status_code = 404
    code = "unknown_policy"


class NotAllowedNow(GridcaseError):
    """The action is not allowed in the case's current state; details list what is."""

    status_code = 409
    code = "not_allowed_now"


class MissingContact(GridcaseError):
    """The reporter gave no way to reach them that the jurisdiction's contact rule accepts."""

    status_code = 422
    code = "missing_contact"


class ReferenceTaken(GridcaseError):
    """Intake with a channel + external_ref that names a case the caller may not see."""

    status_code = 409
    code = "reference_taken"


class InvalidReference(GridcaseError):
    """A well-formed body naming a category, place or unit that does not exist."""

    status_code = 422
    code = "invalid_reference"


class InvalidQuery(GridcaseError):
    """Well-formed query parameters that ask for something that cannot be answered (statistics
    grouped by an unknown key, a period that ends before it starts or is too long)."""

    status_code = 422
    code = "invalid_query"


class Unavailable(GridcaseError):
    """Temporal or PostgreSQL is down or overloaded: retry later (intake is idempotent)."""

    status_code = 503
    code = "unavailable"


class InvalidValue(GridcaseError):
    """A value PostgreSQL cannot hold slipped past the edge (SQLSTATE class 22, data
    exception): still the caller's input, so a 4xx, and the statement's values are not shown."""

    status_code = 422
    code = "invalid_value"


class NotFound(GridcaseError):
    status_code = 404
    code = "not_found"


class MethodNotAllowed(GridcaseError):
    status_code = 405
    code = "method_not_allowed"


# What the workflow service answers when it cannot serve now: the codes Temporal's own client
# retries as transient, then a timeout or a cancelled call. UNKNOWN is what a call gets when
# the server dies under it after the client's retries have spent their 10 s (a long-polling
# Update does): "transport error". A retry with the same Idempotency-Key is safe.
_UNAVAILABLE_RPC = {
    RPCStatusCode.UNAVAILABLE,
    RPCStatusCode.UNKNOWN,
    RPCStatusCode.INTERNAL,
    RPCStatusCode.ABORTED,
    RPCStatusCode.DATA_LOSS,
    RPCStatusCode.RESOURCE_EXHAUSTED,
    RPCStatusCode.DEADLINE_EXCEEDED,
    RPCStatusCode.CANCELLED,
}
# SQLSTATE classes that mean "the database cannot serve now": connection exception (08),
# transaction rollback (40: a serialization failure or a deadlock, gone on a retry),
# insufficient resources (53, e.g. too many connections), operator intervention (57: shutting
# down, starting up, a cancelled statement).
_UNAVAILABLE_SQLSTATE = ("08", "40", "53", "57")


def error_body(code: str, message: str, details: Any = None) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "details": jsonable_encoder(details)}}


def retry_after(error: GridcaseError) -> int | None:
    """Seconds a refused client should wait before it retries (503 and 429), else None."""
    if error.status_code == 503:
        return RETRY_AFTER_SECONDS
    if error.status_code == 429 and isinstance(error.details, dict):
        return int(error.details.get("retry_after_seconds", 60))
    return None


def _response(error: GridcaseError) -> JSONResponse:
    headers = dict(getattr(error, "headers", None) or {})
    if (seconds := retry_after(error)) is not None:
        headers["Retry-After"] = str(seconds)
    return JSONResponse(
        error_body(error.code, error.message, error.details), error.status_code, headers=headers
    )


def database_error(exc: DBAPIError) -> GridcaseError | None:
    """What a database error means to the caller; None for a defect of ours (a 500)."""
    sqlstate = sqlstate_of(exc)
    # No statement: it failed while connecting (refused, starting up, not accepting).
    if exc.statement is None or exc.connection_invalidated or isinstance(exc, OperationalError):
        return Unavailable("the database is unavailable, retry later")
    if sqlstate.startswith(_UNAVAILABLE_SQLSTATE):
        return Unavailable("the database is unavailable, retry later", {"sqlstate": sqlstate})
    if sqlstate.startswith("22"):
        return InvalidValue("a value is out of range or not allowed", {"sqlstate": sqlstate})
    return None


def as_error(exc: Exception) -> GridcaseError | None:
    """Every exception the API may meet, as one of ours (None: a defect, answered 500)."""
    if isinstance(exc, GridcaseError):
        return exc
    if isinstance(exc, RequestValidationError):
        details = [
            {"loc": list(e.get("loc", ())), "msg": e.get("msg"), "type": e.get("type")}
            for e in exc.errors()
        ]
        return InvalidRequest("the request is not valid", details)
    if isinstance(exc, StarletteHTTPException):
        kinds = {404: NotFound, 405: MethodNotAllowed}
        kind = kinds.get(exc.status_code)
        if kind is not None:
            known = kind(str(exc.detail).lower().rstrip("."))
            known.headers = exc.headers  # type: ignore[attr-defined]  # 405's Allow
            return known
        error = GridcaseError(str(exc.detail))
        error.status_code = exc.status_code
        error.code = "bad_request" if exc.status_code == 400 else f"http_{exc.status_code}"
        error.headers = exc.headers  # type: ignore[attr-defined]
        return error
    if isinstance(exc, RPCError) and exc.status == RPCStatusCode.NOT_FOUND:
        # What the request names is not in the workflow service (a schedule not registered yet)
        return NotFound("not found in the workflow service")
    if isinstance(exc, RPCError) and exc.status in _UNAVAILABLE_RPC:
        return Unavailable("the workflow service is unavailable, retry later")
    if isinstance(exc, DBAPIError):
        return database_error(exc)
    if isinstance(exc, PoolTimeout):  # every connection busy for the pool's whole timeout
        return Unavailable("the database is busy, retry later")
    if isinstance(exc, OSError):
        return Unavailable("a backing service is unreachable, retry later")
    return None


class InvalidRequest(GridcaseError):
    """A body, query or path that does not fit the API's schema."""

    status_code = 422
    code = "invalid_request"


def install(app: FastAPI) -> None:
    """One handler for every error: the same body shape whatever raised it."""

    async def handle(request: Request, exc: Exception) -> JSONResponse:
        error = as_error(exc)
        if error is None:
            # The catch-all's exception goes on to the server, which logs it; one these
            # handlers took stops here, so it is logged here (a 500 nobody can read is a lie).
            _log.error("%s %s answered 500", request.method, request.url.path, exc_info=exc)
            return _internal()
        if error.status_code == 503 and not isinstance(exc, GridcaseError):
            # What the backing service said, for an operator who sees the 503s rise.
            _log.warning("%s %s answered 503: %s", request.method, request.url.path, _said(exc))
        return _response(error)

    async def unexpected(_: Request, __: Exception) -> JSONResponse:
        return _internal()

    for kind in (
        GridcaseError,
        RequestValidationError,
        StarletteHTTPException,
        RPCError,
        DBAPIError,
        PoolTimeout,
        OSError,
    ):
        app.add_exception_handler(kind, handle)
    app.add_exception_handler(Exception, unexpected)


def _said(exc: Exception) -> str:
    """A backing service's failure in one line, without a statement or its values (they may
    hold a resident's personal data)."""
    if isinstance(exc, RPCError):
        return f"Temporal {exc.status.name}: {exc.message}"
    if isinstance(exc, DBAPIError):
        return f"PostgreSQL {type(exc.orig).__name__} ({sqlstate_of(exc) or 'no SQLSTATE'})"
    return f"{type(exc).__name__}: {exc}"


def _internal() -> JSONResponse:
    internal = GridcaseError("an internal error; it has been logged")
    internal.status_code, internal.code = 500, "internal"
    return _response(internal)

"""One error type per meaning, mapped to HTTP once. Every error body has the same shape:
{"error": {"code": ..., "message": ..., "details": ...}}."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DBAPIError, OperationalError
from temporalio.service import RPCError, RPCStatusCode

RETRY_AFTER_SECONDS = 5


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


class NotAllowedNow(GridcaseError):
    """The action is not allowed in the case's current state; details list what is."""

    status_code = 409
    code = "not_allowed_now"


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


_UNAVAILABLE_RPC = {
    RPCStatusCode.UNAVAILABLE,
    RPCStatusCode.DEADLINE_EXCEEDED,
    RPCStatusCode.RESOURCE_EXHAUSTED,
    RPCStatusCode.CANCELLED,
}


def _body(code: str, message: str, details: Any = None) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "details": jsonable_encoder(details)}}


def _response(error: GridcaseError) -> JSONResponse:
    headers = dict(getattr(error, "headers", None) or {})
    if error.status_code == 503:
        headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
    if error.status_code == 429 and isinstance(error.details, dict):
        headers["Retry-After"] = str(error.details.get("retry_after_seconds", 60))
    return JSONResponse(
        _body(error.code, error.message, error.details), error.status_code, headers=headers
    )


def install(app: FastAPI) -> None:
    @app.exception_handler(GridcaseError)
    async def _gridcase(_: Request, exc: GridcaseError) -> JSONResponse:
        return _response(exc)

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        details = [
            {"loc": list(e.get("loc", ())), "msg": e.get("msg"), "type": e.get("type")}
            for e in exc.errors()
        ]
        return JSONResponse(_body("invalid_request", "the request is not valid", details), 422)

    @app.exception_handler(RPCError)
    async def _temporal(_: Request, exc: RPCError) -> JSONResponse:
        if exc.status in _UNAVAILABLE_RPC:
            return _response(Unavailable("the workflow service is unavailable, retry later"))
        raise exc

    @app.exception_handler(OperationalError)
    @app.exception_handler(DBAPIError)
    async def _database(_: Request, exc: Exception) -> JSONResponse:
        if (
            isinstance(exc, DBAPIError)
            and not exc.connection_invalidated
            and not isinstance(exc, OperationalError)
        ):
            raise exc
        return _response(Unavailable("the database is unavailable, retry later"))

    @app.exception_handler(OSError)
    async def _connection(_: Request, exc: OSError) -> JSONResponse:
        return _response(Unavailable("a backing service is unreachable, retry later"))

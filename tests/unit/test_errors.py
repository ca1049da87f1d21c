"""Database errors mean different things to a caller: the server cannot serve now (503, retry),
a value it cannot hold (422), or a defect of ours (500)."""

from __future__ import annotations

import logging

import pytest
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from temporalio.service import RPCError, RPCStatusCode

from api.actions import closing
from api.errors import as_error, database_error
from db.models import Case
from tests.unit.raising import answered_when_raising
from workflows.linkage import linkage_id


class PostgresError(Exception):
    """What asyncpg raises: an error with its SQLSTATE."""

    def __init__(self, sqlstate: str) -> None:
        super().__init__(f"SQLSTATE {sqlstate}")
        self.sqlstate = sqlstate


@pytest.mark.parametrize(
    ("sqlstate", "status"),
    [
        ("57P03", 503),  # the database system is starting up
        ("57P01", 503),  # terminating connection due to administrator command
        ("08006", 503),  # connection failure
        ("53300", 503),  # too many connections
        ("40P01", 503),  # deadlock detected: gone on a retry
        ("40001", 503),  # serialization failure
        ("22021", 422),  # NUL in text
        ("22008", 422),  # timestamp out of range
        ("23505", None),  # a unique violation is a defect of ours: 500
        ("42P01", None),
    ],
)
def test_a_database_error_is_answered_by_its_sqlstate(sqlstate: str, status: int | None) -> None:
    error = DBAPIError("select 1", {}, PostgresError(sqlstate))
    mapped = database_error(error)
    assert (mapped.status_code if mapped else None) == status


def test_an_error_while_connecting_is_503_whatever_its_sqlstate() -> None:
    at_connect = DBAPIError(None, None, PostgresError("55000"))  # not accepting connections
    mapped = database_error(at_connect)
    assert mapped is not None and mapped.status_code == 503


@pytest.mark.parametrize(
    ("status", "linkage", "target", "answer"),
    [
        ("closed", None, "case", 409),  # the record already says it is over
        ("in_progress", None, "case", 503),  # not yet recorded: a retry meets the end
        ("in_progress", "completed", "linkage", 409),
        ("in_progress", "open", "linkage", 503),
    ],
)
def test_an_action_meeting_a_closing_workflow_is_409_or_503_as_the_record_says(
    status: str, linkage: str | None, target: str, answer: int
) -> None:
    case = Case(id="LC-2026-000001", status=status, linkage=linkage)
    workflow_id = case.id if target == "case" else linkage_id(case.id)
    assert closing(case, workflow_id).status_code == answer


def test_what_the_workflow_service_does_not_know_is_404() -> None:
    missing = as_error(RPCError("schedule not found", RPCStatusCode.NOT_FOUND, b""))
    assert missing is not None and missing.status_code == 404


@pytest.mark.parametrize(
    "status",
    [
        RPCStatusCode.UNAVAILABLE,
        RPCStatusCode.UNKNOWN,  # "transport error": the server died under a long call
        RPCStatusCode.INTERNAL,
        RPCStatusCode.ABORTED,
        RPCStatusCode.RESOURCE_EXHAUSTED,
        RPCStatusCode.DEADLINE_EXCEEDED,
    ],
)
def test_a_workflow_service_that_cannot_serve_now_is_503(status: RPCStatusCode) -> None:
    down = as_error(RPCError("down", status, b""))
    assert down is not None and down.status_code == 503


@pytest.mark.parametrize(
    "status", [RPCStatusCode.INVALID_ARGUMENT, RPCStatusCode.PERMISSION_DENIED]
)
def test_a_call_the_workflow_service_refuses_as_malformed_is_a_defect_of_ours(
    status: RPCStatusCode,
) -> None:
    assert as_error(RPCError("bug", status, b"")) is None  # a 500, logged


def test_a_pool_with_every_connection_busy_is_503() -> None:
    busy = as_error(PoolTimeout("QueuePool limit of size 10 overflow 10 reached"))
    assert busy is not None and busy.status_code == 503


async def test_a_500_is_logged_with_what_raised_it(caplog: pytest.LogCaptureFixture) -> None:
    """A 500 says "it has been logged": an error one of the typed handlers took (and found to be
    a defect of ours) is logged there, with its traceback."""
    refused = RPCError(
        "a request the workflow service refuses", RPCStatusCode.INVALID_ARGUMENT, b""
    )
    with caplog.at_level(logging.ERROR, logger="gridcase.api"):
        answer = await answered_when_raising(refused, "GET", "/rejected")
    assert answer.status_code == 500
    assert answer.json()["error"]["code"] == "internal"
    (logged,) = caplog.records
    assert logged.getMessage() == "GET /rejected answered 500"
    assert logged.exc_info is not None and isinstance(logged.exc_info[1], RPCError)


async def test_a_503_for_a_backing_service_logs_what_it_said(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """An operator who sees 503s rise reads why in the log: one line, the service's status."""
    lost = RPCError("transport error", RPCStatusCode.UNKNOWN, b"")
    with caplog.at_level(logging.WARNING, logger="gridcase.api"):
        answer = await answered_when_raising(lost, "POST", "/v1/cases/LC-2026-000148/accept")
    assert answer.status_code == 503
    (logged,) = caplog.records
    assert logged.levelno == logging.WARNING and logged.exc_info is None
    assert logged.getMessage() == (
        "POST /v1/cases/LC-2026-000148/accept answered 503: Temporal UNKNOWN: transport error"
    )

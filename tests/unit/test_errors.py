"""Database errors mean different things to a caller: the server cannot serve now (503, retry),
a value it cannot hold (422), or a defect of ours (500)."""

from __future__ import annotations

import pytest
from sqlalchemy.exc import DBAPIError
from temporalio.service import RPCError, RPCStatusCode

from api.actions import closing
from api.errors import as_error, database_error
from db.models import Case
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


def test_what_the_workflow_service_does_not_know_is_404_and_its_outage_503() -> None:
    missing = as_error(RPCError("schedule not found", RPCStatusCode.NOT_FOUND, b""))
    assert missing is not None and missing.status_code == 404
    down = as_error(RPCError("unavailable", RPCStatusCode.UNAVAILABLE, b""))
    assert down is not None and down.status_code == 503
    assert as_error(RPCError("bug", RPCStatusCode.INVALID_ARGUMENT, b"")) is None  # ours: 500

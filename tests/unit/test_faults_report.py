"""`make faults` tells what each 500 was from the API's own log, so a failed CI run's output
says what raised it (its logs stay on the machine that ran it)."""

from __future__ import annotations

import io
import logging

from temporalio.service import RPCError, RPCStatusCode

from core.logs import PLAIN
from faults.run import internal_errors
from tests.unit.raising import answered_when_raising


async def test_each_500_is_told_as_its_request_and_the_error_that_ended_it() -> None:
    written = io.StringIO()
    handler = logging.StreamHandler(written)
    handler.setFormatter(logging.Formatter(PLAIN))
    logger = logging.getLogger("gridcase.api")
    logger.addHandler(handler)
    try:
        for case_id in ("LC-2026-000148", "LC-2026-000149"):
            malformed = RPCError("a malformed request", RPCStatusCode.INVALID_ARGUMENT, b"")
            malformed.__cause__ = KeyError(case_id)  # a chained traceback: the last line counts
            path = f"/v1/cases/{case_id}/accept"
            assert (await answered_when_raising(malformed, "POST", path)).status_code == 500
    finally:
        logger.removeHandler(handler)

    assert internal_errors(written.getvalue()) == [
        "POST /v1/cases/LC-2026-000148/accept answered 500: "
        "temporalio.service.RPCError: a malformed request",
        "POST /v1/cases/LC-2026-000149/accept answered 500: "
        "temporalio.service.RPCError: a malformed request",
    ]

"""`make faults` tells what each 500 was from the API's own log, so a failed CI run's output
says what raised it (its logs stay on the machine that ran it)."""

from __future__ import annotations

import io
import logging

import httpx
from fastapi import FastAPI
from temporalio.service import RPCError, RPCStatusCode

from api.errors import install
from core.logs import PLAIN
from faults.run import internal_errors


async def test_each_500_is_told_as_its_request_and_the_error_that_ended_it() -> None:
    app = FastAPI()
    install(app)

    @app.post("/v1/cases/{case_id}/accept")
    async def accept(case_id: str) -> None:
        try:
            raise KeyError(case_id)
        except KeyError as lookup:
            raise RPCError("a malformed request", RPCStatusCode.INVALID_ARGUMENT, b"") from lookup

    written = io.StringIO()
    handler = logging.StreamHandler(written)
    handler.setFormatter(logging.Formatter(PLAIN))
    logger = logging.getLogger("gridcase.api")
    logger.addHandler(handler)
    try:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            for case_id in ("LC-2026-000148", "LC-2026-000149"):
                assert (await client.post(f"/v1/cases/{case_id}/accept")).status_code == 500
    finally:
        logger.removeHandler(handler)

    assert internal_errors(written.getvalue()) == [
        "POST /v1/cases/LC-2026-000148/accept answered 500: "
        "temporalio.service.RPCError: a malformed request",
        "POST /v1/cases/LC-2026-000149/accept answered 500: "
        "temporalio.service.RPCError: a malformed request",
    ]

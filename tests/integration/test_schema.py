"""Property-based fuzzing of the whole HTTP API from its own OpenAPI schema (schemathesis):
a bounded number of generated requests per operation, against the real app with a worker,
PostgreSQL and Temporal. No 5xx, and every response that has a schema matches it."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import schemathesis
import uvicorn
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
)
from schemathesis.specs.openapi.schemas import OpenApiSchema
from temporalio.testing import WorkflowEnvironment

from api.main import create_app
from core.config import Settings
from core.temporal import build_client
from db.session import make_engine, make_sessionmaker
from tests.conftest import bearer, free_port, unique_queue
from worker.main import build_worker

# `make test` runs --fuzz-examples=15; `make fuzz` (CI too) 50 and the stateful phase.
CHECKS = [not_a_server_error, response_schema_conformance, content_type_conformance]


def _serve_in_thread(configured: Settings, ready: threading.Event, stop: threading.Event) -> None:
    async def main() -> None:
        server = uvicorn.Server(
            uvicorn.Config(
                create_app(configured),
                host="127.0.0.1",
                port=configured.api_port,
                log_level="warning",
            )
        )
        engine = make_engine(configured, pool_size=2)
        client = await build_client(configured)
        async with build_worker(client, make_sessionmaker(engine), configured.task_queue):
            serving = asyncio.create_task(server.serve())
            while not server.started:  # noqa: ASYNC110 (uvicorn exposes a flag, not an event)
                await asyncio.sleep(0.01)
            ready.set()
            await asyncio.to_thread(stop.wait)
            server.should_exit = True
            await serving
        await engine.dispose()

    asyncio.run(main())


@pytest.fixture(scope="module")
def live_api(settings: Settings, dev_server: WorkflowEnvironment) -> Iterator[str]:
    """The API on a socket in its own thread and event loop (schemathesis calls it with a
    synchronous client), with a worker, so intake really routes cases."""
    port = free_port()
    configured = settings.model_copy(
        update={
            "temporal_address": dev_server.client.service_client.config.target_host,
            "task_queue": unique_queue(),
            "api_port": port,
        }
    )
    ready, stop = threading.Event(), threading.Event()
    thread = threading.Thread(target=_serve_in_thread, args=(configured, ready, stop))
    thread.start()
    assert ready.wait(30), "the API did not start"
    yield f"http://127.0.0.1:{port}"
    stop.set()
    thread.join(30)


def live_schema(live_api: str) -> OpenApiSchema:
    deadline = time.monotonic() + 10
    while httpx.get(f"{live_api}/healthz").status_code != 200 and time.monotonic() < deadline:
        time.sleep(0.05)
    schema = schemathesis.openapi.from_url(f"{live_api}/openapi.json")
    schema.config.update(base_url=live_api, headers=bearer())
    return schema


def test_no_server_errors_and_responses_match_the_schema(
    live_api: str, request: pytest.FixtureRequest
) -> None:
    examples = request.config.getoption("--fuzz-examples")
    schema = live_schema(live_api)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) > 30
    failures: list[str] = []
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(
            max_examples=examples,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            derandomize=True,  # the same examples on every run: a failure reproduces
            database=None,
        )
        def check(case: schemathesis.Case) -> None:
            case.call_and_validate(
                base_url=live_api,
                headers=bearer(),
                checks=CHECKS,
            )

        try:
            check()
        except Exception as failure:  # collect all, so one run shows every broken operation
            failures.append(f"{operation.label}: {str(failure)[:1500]}")
    assert not failures, "\n\n".join(failures)


def test_sequences_of_linked_operations_find_no_server_error(
    live_api: str, request: pytest.FixtureRequest
) -> None:
    """The stateful phase: a case filed, then read, acted on, listed, by the links schemathesis
    infers between operations (a response's `id` is a later path's `case_id`)."""
    if not request.config.getoption("--fuzz-stateful"):
        pytest.skip("the stateful phase runs in `make fuzz`")
    schema = live_schema(live_api)
    machine = schema.as_state_machine()
    assert machine.bundles, "no links between operations: nothing stateful to run"

    class Checked(machine):  # type: ignore[misc,valid-type]
        def validate_response(self, response: Any, case: Any, **kwargs: Any) -> None:
            case.validate_response(response, checks=CHECKS)

    Checked.run(
        settings=settings(
            max_examples=request.config.getoption("--fuzz-examples"),
            stateful_step_count=8,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            derandomize=True,
            database=None,
        )
    )

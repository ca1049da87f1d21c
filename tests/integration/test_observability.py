"""What an operator's Prometheus and log collector get: gridcase's /metrics on the API, the
Temporal SDK's metrics from a worker's runtime, and JSON log lines with request and case ids."""

from __future__ import annotations

import json
import logging

import httpx
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from core import logs
from core.config import Settings
from core.temporal import build_client, metrics_runtime
from tests.conftest import eventually, free_port, unique_queue
from tests.integration.conftest import new_case
from worker.main import build_worker


def sample(text: str, name: str, **labels: str) -> float | None:
    """The value of one sample in Prometheus' text format."""
    wanted = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    for line in text.splitlines():
        if line.startswith("#"):
            continue
        key, _, value = line.rpartition(" ")
        metric, _, rest = key.partition("{")
        got = ",".join(sorted(rest.rstrip("}").split(","))) if rest else ""
        if metric == name and got == wanted:
            return float(value)
    return None


async def test_the_api_counts_requests_by_route_and_reads_the_case_figures(
    api: httpx.AsyncClient,
) -> None:
    before = (await api.get("/metrics")).text
    filed = await api.post("/v1/cases", json=new_case(), headers={"X-Request-ID": "req-42"})
    assert filed.status_code == 201, filed.text
    assert filed.headers["X-Request-ID"] == "req-42"
    unknown = await api.get("/v1/cases/LC-1999-000000")
    assert unknown.status_code == 404

    after = await api.get("/metrics")
    assert after.status_code == 200
    text = after.text
    posted = {"route": "/v1/cases", "method": "POST", "status": "201"}
    assert (sample(text, "gridcase_http_requests_total", **posted) or 0) == (
        sample(before, "gridcase_http_requests_total", **posted) or 0
    ) + 1
    one = {"route": "/v1/cases/{case_id}", "method": "GET", "status": "404"}
    assert (sample(text, "gridcase_http_requests_total", **one) or 0) >= 1
    dispatched = sample(text, "gridcase_cases", status="dispatched")
    assert dispatched is not None and dispatched >= 1
    assert sample(text, "gridcase_outbox_backlog") is not None
    assert sample(text, "gridcase_cases_overdue") is not None


async def test_a_worker_serves_the_temporal_sdks_metrics(
    settings: Settings, dev_server: WorkflowEnvironment, sessions: object
) -> None:
    address = f"127.0.0.1:{free_port()}"
    configured = settings.model_copy(
        update={"temporal_address": dev_server.client.service_client.config.target_host}
    )
    client: Client = await build_client(configured, metrics_runtime(address))
    async with build_worker(client, sessions, unique_queue()), httpx.AsyncClient() as http:  # type: ignore[arg-type]

        async def scraped() -> str:
            text = (await http.get(f"http://{address}/metrics")).text
            return text if "temporal_worker_task_slots_available" in text else ""

        text = await eventually(scraped, within=20)
    assert "temporal_worker_task_slots_available" in text
    assert "temporal_request_total" in text  # the client's calls, counted by the SDK


def test_json_log_lines_carry_the_request_and_case_ids() -> None:
    logs.configure("json")
    handler = logging.getLogger().handlers[0]
    record = logging.LogRecord("gridcase", logging.INFO, __file__, 1, "accepted %s", ("x",), None)
    request_token = logs.request_id.set("req-7")
    case_token = logs.case_id.set("LC-2026-000001")
    try:
        for check in handler.filters:
            check.filter(record)  # type: ignore[union-attr]
        line = json.loads(handler.format(record))
    finally:
        logs.request_id.reset(request_token)
        logs.case_id.reset(case_token)
        logs.configure("plain")
    assert line["message"] == "accepted x"
    assert line["request_id"] == "req-7" and line["case_id"] == "LC-2026-000001"
    assert line["level"] == "info" and line["logger"] == "gridcase"

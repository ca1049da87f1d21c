"""deploy/: what Prometheus scrapes is what gridcase serves, and the Grafana dashboard asks only
for metrics that exist."""

from __future__ import annotations

import json
import re
from pathlib import Path

import yaml

from api.metrics import REGISTRY

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
COMPOSE = yaml.safe_load((DEPLOY.parent / "docker-compose.yml").read_text())
# The Temporal SDK's names (PrometheusConfig with counters_total_suffix) the dashboard uses.
SDK = {
    "temporal_workflow_task_schedule_to_start_latency_bucket",
    "temporal_activity_schedule_to_start_latency_bucket",
    "temporal_sticky_cache_size",
    "temporal_sticky_cache_hit_total",
    "temporal_sticky_cache_miss_total",
    "temporal_long_request_failure_total",
    "temporal_request_failure_total",
    "temporal_worker_task_slots_available",
}


def gridcase_names() -> set[str]:
    names = set()
    for metric in REGISTRY.collect():
        names.add(metric.name)
        if metric.type == "counter":  # its samples carry the suffix, once a label set exists
            names.add(f"{metric.name}_total")
        names.update(sample.name for sample in metric.samples)
    return names


def test_prometheus_scrapes_the_api_and_the_worker_where_compose_serves_them() -> None:
    config = yaml.safe_load((DEPLOY / "prometheus.yml").read_text())
    targets = {
        job["job_name"]: job["static_configs"][0]["targets"] for job in config["scrape_configs"]
    }
    assert targets == {"gridcase-api": ["api:8000"], "gridcase-worker": ["worker:9464"]}
    worker = COMPOSE["services"]["worker"]["environment"]
    assert worker["GRIDCASE_WORKER_METRICS_ADDRESS"].endswith(":9464")


def test_the_dashboard_asks_only_for_metrics_that_exist() -> None:
    dashboard = json.loads((DEPLOY / "grafana" / "dashboards" / "gridcase.json").read_text())
    asked = {
        name
        for panel in dashboard["panels"]
        for target in panel["targets"]
        for name in re.findall(r"\b((?:gridcase|temporal)_[a-z_]+)\b", target["expr"])
    }
    assert asked, "the dashboard has queries"
    unknown = asked - gridcase_names() - SDK
    assert unknown == set()
    assert {n for n in asked if n.startswith("gridcase_")} >= {
        "gridcase_cases",
        "gridcase_cases_overdue",
        "gridcase_cases_escalated",
        "gridcase_outbox_backlog",
        "gridcase_http_requests_total",
    }

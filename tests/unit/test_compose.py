"""docker-compose.yml cannot run here (no Docker engine), so its wiring is checked as data:
services, pinned images, ports, the env our Settings reads, start-up order, and the search
attributes the workflow upserts."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from core.config import Settings
from workflows import search_attributes as sa

ROOT = Path(__file__).resolve().parents[2]
COMPOSE: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
SERVICES: dict[str, Any] = COMPOSE["services"]


def test_every_part_of_the_deployment_is_there() -> None:
    assert set(SERVICES) == {
        "postgres",
        "temporal-schema",
        "temporal",
        "temporal-setup",
        "temporal-ui",
        "migrate",
        "worker",
        "api",
    }


@pytest.mark.parametrize("name", [n for n, s in SERVICES.items() if "image" in s])
def test_images_are_pinned_and_not_the_deprecated_auto_setup(name: str) -> None:
    image = SERVICES[name]["image"]
    repository, _, tag = image.partition(":")
    assert tag and tag != "latest" and re.match(r"^\d", tag), image
    assert repository != "temporalio/auto-setup"


def test_ports_api_temporal_and_ui() -> None:
    assert SERVICES["api"]["ports"] == ["8000:8000"]
    assert SERVICES["temporal"]["ports"] == ["7233:7233"]
    assert SERVICES["temporal-ui"]["ports"] == ["8233:8080"]
    assert SERVICES["temporal-ui"]["environment"]["TEMPORAL_ADDRESS"] == "temporal:7233"


def test_api_worker_and_migrate_share_one_environment_that_settings_reads(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    shared = COMPOSE["x-gridcase-env"]
    for name in ("worker", "migrate"):
        assert SERVICES[name]["environment"] == shared
    assert shared.items() <= SERVICES["api"]["environment"].items()

    for key, value in SERVICES["api"]["environment"].items():
        monkeypatch.setenv(key, value)
    settings = Settings()
    assert settings.sqlalchemy_url.startswith("postgresql+asyncpg://gridcase:gridcase@postgres:")
    assert settings.temporal_target == "temporal:7233"
    assert settings.task_queue == "cases"
    assert (settings.api_host, settings.api_port) == ("0.0.0.0", 8000)
    assert str(settings.config_dir) == "/app/config"


def test_start_up_order() -> None:
    def waits_for(service: str) -> dict[str, str]:
        return {k: v["condition"] for k, v in SERVICES[service]["depends_on"].items()}

    assert waits_for("temporal-schema") == {"postgres": "service_healthy"}
    assert waits_for("temporal") == {"temporal-schema": "service_completed_successfully"}
    assert waits_for("temporal-setup") == {"temporal": "service_healthy"}
    assert waits_for("migrate") == {"postgres": "service_healthy"}
    for service in ("worker", "api"):
        assert waits_for(service) == {
            "migrate": "service_completed_successfully",
            "temporal-setup": "service_completed_successfully",
        }


def test_the_setup_job_registers_every_search_attribute_with_its_type() -> None:
    script = "\n".join(SERVICES["temporal-setup"]["command"])
    for key in sa.ALL:
        kind = {"KEYWORD": "Keyword", "DATETIME": "Datetime", "BOOL": "Bool", "INT": "Int"}[
            key.indexed_value_type.name
        ]
        assert f"{key.name}:{kind}" in script


def test_the_image_carries_every_package_the_project_declares() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    pyproject = (ROOT / "pyproject.toml").read_text()
    packages = re.search(r"include = \[(.*?)\]", pyproject)
    assert packages is not None
    for package in re.findall(r'"(\w+)\*"', packages.group(1)):
        assert f"COPY {package} ./{package}" in dockerfile
    assert "COPY config ./config" in dockerfile
    assert "[embedded]" not in dockerfile and "[dev]" not in dockerfile

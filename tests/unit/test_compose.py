"""docker-compose.yml cannot run here (no Docker engine), so its wiring is checked as data:
services, pinned images, ports, the environment our Settings reads, start-up order, the
Temporal schema and setup jobs, and the Dockerfile the gridcase services build from."""

from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml

from core.config import Settings
from workflows import search_attributes as sa

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_TEXT = (ROOT / "docker-compose.yml").read_text(encoding="utf-8")
COMPOSE: dict[str, Any] = yaml.safe_load(COMPOSE_TEXT)
SERVICES: dict[str, Any] = COMPOSE["services"]
SHARED_ENV: dict[str, str] = COMPOSE["x-gridcase-env"]
DOCKERFILE = (ROOT / "Dockerfile").read_text(encoding="utf-8")
GRIDCASE_SERVICES = ("migrate", "worker", "api")


def script(service: str) -> str:
    command = SERVICES[service]["command"]
    return command if isinstance(command, str) else "\n".join(command)


def waits_for(service: str) -> dict[str, str]:
    return {name: dep["condition"] for name, dep in SERVICES[service]["depends_on"].items()}


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
        "prometheus",
        "grafana",
    }


@pytest.mark.parametrize("name", [n for n, s in SERVICES.items() if "image" in s])
def test_images_are_pinned_and_not_the_deprecated_auto_setup(name: str) -> None:
    image = SERVICES[name]["image"]
    repository, _, tag = image.partition(":")
    assert tag and tag != "latest" and re.match(r"^v?\d+(\.\d+)*$", tag), image
    assert repository != "temporalio/auto-setup"


def test_the_temporal_images_share_one_release() -> None:
    assert SERVICES["temporal"]["image"].startswith("temporalio/server:")
    server_tag = SERVICES["temporal"]["image"].partition(":")[2]
    for job in ("temporal-schema", "temporal-setup"):
        assert SERVICES[job]["image"] == f"temporalio/admin-tools:{server_tag}"
    assert SERVICES["temporal-ui"]["image"].startswith("temporalio/ui:")


def test_gridcase_services_build_the_local_image() -> None:
    for name in GRIDCASE_SERVICES:
        assert SERVICES[name]["build"] == "."
        assert "image" not in SERVICES[name]


def test_ports_api_temporal_and_ui() -> None:
    assert SERVICES["api"]["ports"] == ["8000:8000"]
    assert SERVICES["temporal"]["ports"] == ["7233:7233"]
    assert SERVICES["temporal-ui"]["ports"] == ["8233:8080"]
    assert SERVICES["temporal-ui"]["environment"]["TEMPORAL_ADDRESS"] == "temporal:7233"
    assert SERVICES["temporal-ui"]["environment"]["TEMPORAL_CORS_ORIGINS"]


def test_the_ui_decodes_through_the_codec_server_and_offers_no_write_action() -> None:
    ui = SERVICES["temporal-ui"]["environment"]
    assert ui["TEMPORAL_CODEC_ENDPOINT"] == "http://localhost:8000/codec"
    assert ui["TEMPORAL_CODEC_INCLUDE_CREDENTIALS"] == "true"  # the console's operator session
    assert ui["TEMPORAL_DISABLE_WRITE_ACTIONS"] == "true"
    origins = json.loads(SERVICES["api"]["environment"]["GRIDCASE_UI_ORIGINS"])
    assert origins == [ui["TEMPORAL_CORS_ORIGINS"]]


def test_the_env_anchor_is_reused_not_copied() -> None:
    document = yaml.compose(COMPOSE_TEXT)
    assert isinstance(document, yaml.MappingNode)
    top = {key.value: value for key, value in document.value}
    anchor, services = top["x-gridcase-env"], top["services"]
    assert re.search(r"^x-gridcase-env: &gridcase-env$", COMPOSE_TEXT, re.M)
    nodes = {key.value: value for key, value in services.value}

    def environment(service: str) -> yaml.Node:
        return next(v for k, v in nodes[service].value if k.value == "environment")

    assert environment("migrate") is anchor
    for service in ("api", "worker"):
        merged = [v for k, v in environment(service).value if k.value == "<<"]
        assert merged == [anchor]


def test_the_shared_env_points_at_the_compose_services() -> None:
    assert SHARED_ENV["DATABASE_URL"].startswith("postgresql+asyncpg://")
    assert "@postgres:5432/" in SHARED_ENV["DATABASE_URL"]
    assert SHARED_ENV["TEMPORAL_ADDRESS"] == "temporal:7233"
    assert "temporal" in SERVICES and "postgres" in SERVICES
    postgres = SERVICES["postgres"]["environment"]
    user, password, db = (
        postgres["POSTGRES_USER"],
        postgres["POSTGRES_PASSWORD"],
        postgres["POSTGRES_DB"],
    )
    assert SHARED_ENV["DATABASE_URL"].endswith(f"://{user}:{password}@postgres:5432/{db}")
    assert SERVICES["migrate"]["environment"] == SHARED_ENV
    for name in ("api", "worker"):
        assert SHARED_ENV.items() <= SERVICES[name]["environment"].items()


def _names_settings_reads() -> set[str]:
    names: set[str] = set()
    prefix = Settings.model_config.get("env_prefix", "")
    for field_name, field in Settings.model_fields.items():
        alias = field.validation_alias
        choices = getattr(alias, "choices", None)
        if choices is not None:
            names.update(c for c in choices if isinstance(c, str))
        elif isinstance(alias, str):
            names.add(alias)
        else:
            names.add(f"{prefix}{field_name}".upper())
    return names


def test_every_gridcase_env_var_is_one_settings_reads() -> None:
    reads = _names_settings_reads()
    for name in GRIDCASE_SERVICES:
        unknown = set(SERVICES[name]["environment"]) - reads
        assert not unknown, f"{name}: Settings ignores {sorted(unknown)}"


def test_settings_take_the_compose_values(monkeypatch: pytest.MonkeyPatch) -> None:
    for key in _names_settings_reads():
        monkeypatch.delenv(key, raising=False)
    for key, value in SERVICES["api"]["environment"].items():
        monkeypatch.setenv(key, str(value))
    settings = Settings()
    assert (
        settings.sqlalchemy_url == "postgresql+asyncpg://gridcase:gridcase@postgres:5432/gridcase"
    )
    assert settings.temporal_target == "temporal:7233"
    assert settings.temporal_namespace == "default"
    assert settings.task_queue == "cases"
    assert (settings.api_host, settings.api_port) == ("0.0.0.0", 8000)
    assert settings.config_dir == Path("/app/config")


def test_start_up_order() -> None:
    assert waits_for("temporal-schema") == {"postgres": "service_healthy"}
    assert waits_for("temporal") == {"temporal-schema": "service_completed_successfully"}
    assert waits_for("temporal-setup") == {"temporal": "service_healthy"}
    assert waits_for("temporal-ui") == {"temporal": "service_healthy"}
    assert waits_for("migrate") == {"postgres": "service_healthy"}
    for service in ("worker", "api"):
        assert waits_for(service) == {
            "migrate": "service_completed_successfully",
            "temporal-setup": "service_completed_successfully",
        }
        assert SERVICES[service]["restart"] == "unless-stopped"


def test_every_waited_on_health_is_defined() -> None:
    for service in (name for name, spec in SERVICES.items() if "depends_on" in spec):
        for dependency, condition in waits_for(service).items():
            assert dependency in SERVICES
            if condition == "service_healthy":
                assert "healthcheck" in SERVICES[dependency], dependency
            else:
                # A one-shot job: it must be allowed to stop (no `always`/`unless-stopped`).
                assert condition == "service_completed_successfully"
                assert SERVICES[dependency].get("restart", "no").startswith(("no", "on-failure"))


def test_postgres_is_healthchecked_and_persistent() -> None:
    postgres = SERVICES["postgres"]
    assert "pg_isready" in " ".join(postgres["healthcheck"]["test"])
    volume = postgres["volumes"][0].split(":")[0]
    assert volume in COMPOSE["volumes"]


def test_temporal_runs_on_postgres_with_documented_settings() -> None:
    env = SERVICES["temporal"]["environment"]
    # The variables the server image's embedded config template reads for postgres12.
    documented = {
        "DB",
        "DB_PORT",
        "DBNAME",
        "VISIBILITY_DBNAME",
        "POSTGRES_SEEDS",
        "POSTGRES_USER",
        "POSTGRES_PWD",
        "BIND_ON_IP",
        "DYNAMIC_CONFIG_FILE_PATH",
    }
    assert set(env) <= documented, sorted(set(env) - documented)
    assert env["DB"] == "postgres12"
    assert env["POSTGRES_SEEDS"] == "postgres"
    assert str(env["DB_PORT"]) == "5432"
    postgres = SERVICES["postgres"]["environment"]
    assert (env["POSTGRES_USER"], env["POSTGRES_PWD"]) == (
        postgres["POSTGRES_USER"],
        postgres["POSTGRES_PASSWORD"],
    )
    # The image ships no dynamic config file; compose provides it where the server looks.
    [mounted] = SERVICES["temporal"]["configs"]
    assert mounted["target"] == env["DYNAMIC_CONFIG_FILE_PATH"]
    assert yaml.safe_load(COMPOSE["configs"][mounted["source"]]["content"])
    assert "7233" in " ".join(SERVICES["temporal"]["healthcheck"]["test"])


def test_the_schema_job_sets_up_both_temporal_databases() -> None:
    job = script("temporal-schema")
    assert "temporal-sql-tool" in job and "--plugin postgres12" in job
    assert (
        SERVICES["temporal-schema"]["environment"]["SQL_PASSWORD"]
        == (SERVICES["postgres"]["environment"]["POSTGRES_PASSWORD"])
    )
    for db, kind in (("temporal", "temporal"), ("temporal_visibility", "visibility")):
        assert f"--db {db} create" in job
        assert f"--db {db} setup-schema -v 0.0" in job
        assert re.search(rf"--db {db} update-schema -d \S*/{kind}/versioned", job)
    assert "/etc/temporal/schema/postgresql/v12" in job


def test_the_setup_job_creates_the_namespace_and_every_search_attribute() -> None:
    job = script("temporal-setup")
    assert SERVICES["temporal-setup"]["environment"]["TEMPORAL_ADDRESS"] == "temporal:7233"
    assert SERVICES["temporal-setup"]["restart"].startswith("on-failure")
    assert "temporal operator cluster health" in job
    namespace = SHARED_ENV["TEMPORAL_NAMESPACE"]
    assert f"temporal operator namespace create -n {namespace}" in job
    assert f"temporal operator search-attribute create -n {namespace}" in job
    registered = dict(re.findall(r"\b(Case\w+):(\w+)\b", job))
    kinds = {"KEYWORD": "Keyword", "DATETIME": "Datetime", "BOOL": "Bool", "INT": "Int"}
    expected = {key.name: kinds[key.indexed_value_type.name] for key in sa.ALL}
    assert registered == expected


def test_gridcase_commands_and_api_healthcheck() -> None:
    assert SERVICES["migrate"]["command"] == ["sh", "-c", "gridcase migrate && gridcase seed"]
    assert SERVICES["worker"]["command"] == ["gridcase", "worker"]
    assert SERVICES["api"]["command"] == ["gridcase", "api"]
    probe = " ".join(SERVICES["api"]["healthcheck"]["test"])
    assert "python" in probe and "http://localhost:8000/healthz" in probe
    assert "curl" not in probe


def test_the_image_carries_every_package_the_project_declares() -> None:
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    patterns = pyproject["tool"]["setuptools"]["packages"]["find"]["include"]
    packages = {pattern.rstrip("*").rstrip(".") for pattern in patterns}
    for package in packages:
        assert (ROOT / package / "__init__.py").is_file(), package
        assert re.search(rf"^COPY {package} \./{package}$", DOCKERFILE, re.M), package
    assert re.search(r"^COPY config \./config$", DOCKERFILE, re.M)
    assert re.search(r"^COPY pyproject\.toml README\.md alembic\.ini \./$", DOCKERFILE, re.M)


def test_the_image_installs_without_extras_and_runs_unprivileged() -> None:
    assert DOCKERFILE.startswith("#") and "FROM python:3.11-slim" in DOCKERFILE
    assert re.search(r"^WORKDIR /app$", DOCKERFILE, re.M)
    assert "pip install --no-cache-dir ." in DOCKERFILE
    assert "[embedded]" not in DOCKERFILE and "[dev]" not in DOCKERFILE
    users = re.findall(r"^USER (\S+)$", DOCKERFILE, re.M)
    assert users and users[-1] not in ("root", "0")
    assert DOCKERFILE.rstrip().endswith('CMD ["gridcase", "api"]')
    assert "GRIDCASE_CONFIG_DIR=/app/config" in DOCKERFILE


def test_the_build_context_leaves_local_state_out() -> None:
    ignored = set((ROOT / ".dockerignore").read_text(encoding="utf-8").split())
    assert {".venv", ".gridcase", ".git", "tests", "bench"} <= ignored

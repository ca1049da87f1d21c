"""PUT /v1/policies/{code} over HTTP with a worker on the dev server: open cases under the policy
follow it when the administrator says so (each records policy_changed and its reply deadline
moves, the first due time kept), and do not when not; only an administrator may change one.
Reloading the reference data (`gridcase seed`) with a changed policy does the same when asked."""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.testing import WorkflowEnvironment

from api.main import create_app
from core.config import Settings
from db.models import CaseEventRow
from tests.conftest import bearer, eventually, unique_queue
from tests.integration.conftest import app_settings, new_case
from worker.cli import reseed
from worker.main import build_worker

CODE = "SLA-NORMAL-CONSULTATION-POLICY"  # reply 3wd; no other test files consultations
ORIGINAL = {"reply": "3wd", "warn_share": 0.8}


@pytest.fixture
async def consultations(api: httpx.AsyncClient) -> AsyncIterator[list[str]]:
    filed = []
    for n in range(2):
        body = new_case(category="consultation.policy", title=f"政策咨询 {n}")
        created = await api.post("/v1/cases", json=body)
        assert created.status_code == 201, created.text
        filed.append(created.json()["id"])
    yield filed
    restored = await api.put(
        f"/v1/policies/{CODE}", json={"change": ORIGINAL, "open_cases_follow": False}
    )
    assert restored.status_code == 200


async def events_of(sessions: async_sessionmaker[AsyncSession], case_id: str) -> list[Any]:
    async with sessions() as session:
        rows = await session.scalars(
            select(CaseEventRow).where(CaseEventRow.case_id == case_id).order_by(CaseEventRow.seq)
        )
        return list(rows)


async def test_open_cases_follow_a_changed_policy_when_told(
    api: httpx.AsyncClient,
    consultations: list[str],
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    first, second = consultations
    before = (await api.get(f"/v1/cases/{first}")).json()
    reply_before = next(d for d in before["deadlines"] if d["kind"] == "reply")["due_at"]

    quiet = await api.put(
        f"/v1/policies/{CODE}", json={"change": {"warn_share": 0.7}, "open_cases_follow": False}
    )
    assert quiet.status_code == 200 and quiet.json()["telling"] is None
    assert "policy_changed" not in [e.type for e in await events_of(sessions, first)]

    told = await api.put(
        f"/v1/policies/{CODE}", json={"change": {"reply": "1wd"}, "open_cases_follow": True}
    )
    assert told.status_code == 200, told.text
    assert told.json()["policy"]["reply"] == "1wd" and told.json()["telling"]

    async def followed() -> bool:
        types = [[e.type for e in await events_of(sessions, c)] for c in (first, second)]
        return all("policy_changed" in t for t in types)

    assert await eventually(followed, within=30)
    [changed] = [e for e in await events_of(sessions, first) if e.type == "policy_changed"]
    assert changed.actor == "test-admin" and changed.data["policy"] == CODE
    after = (await api.get(f"/v1/cases/{first}")).json()
    reply = next(d for d in after["deadlines"] if d["kind"] == "reply")
    assert datetime.fromisoformat(reply["due_at"]) < datetime.fromisoformat(reply_before)
    assert reply["original_due_at"] == reply_before


@pytest.mark.parametrize(
    ("path", "body", "headers", "status"),
    [
        (CODE, {"change": {"reply": "2wd"}, "open_cases_follow": True}, "dispatcher", 403),
        ("SLA-NOPE", {"change": {"reply": "2wd"}, "open_cases_follow": False}, "admin", 404),
        (CODE, {"change": {"reply": "soon"}, "open_cases_follow": False}, "admin", 422),
        (CODE, {"change": {"reply": "2wd"}}, "admin", 422),
    ],
)
async def test_only_an_admin_changes_a_known_policy_to_valid_limits(
    api: httpx.AsyncClient, path: str, body: dict[str, Any], headers: str, status: int
) -> None:
    got = await api.put(f"/v1/policies/{path}", json=body, headers=bearer(headers))
    assert got.status_code == status, got.text


def changed_config(settings: Settings, folder: Path, **limits: str) -> Path:
    """A copy of the reference data with the consultation policy's limits changed."""
    shutil.copytree(settings.config_dir, folder)
    path = folder / "sla_policies.yaml"
    rows = yaml.safe_load(path.read_text(encoding="utf-8"))
    for row in rows:
        if row["code"] == CODE:
            row.update(limits)
    path.write_text(yaml.safe_dump(rows, allow_unicode=True), encoding="utf-8")
    return folder


async def test_reloading_the_reference_data_reaches_open_cases_when_asked(
    settings: Settings,
    dev_server: WorkflowEnvironment,
    sessions: async_sessionmaker[AsyncSession],
    tmp_path: Path,
) -> None:
    configured = app_settings(settings, dev_server, unique_queue())
    app = create_app(configured)
    async with (
        build_worker(dev_server.client, sessions, configured.task_queue),
        app.router.lifespan_context(app),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://test", headers=bearer()
        ) as api,
    ):
        created = await api.post("/v1/cases", json=new_case(category="consultation.policy"))
        assert created.status_code == 201, created.text
        case_id = created.json()["id"]
        try:
            quiet = changed_config(settings, tmp_path / "quiet", reply="2wd")
            reloaded = configured.model_copy(update={"config_dir": quiet})
            assert await reseed(reloaded, open_cases_follow=False) == {CODE: None}
            told_config = changed_config(settings, tmp_path / "told", reply="1wd")
            reloaded = configured.model_copy(update={"config_dir": told_config})
            told = await reseed(reloaded, open_cases_follow=True)
            assert list(told) == [CODE] and told[CODE]

            async def followed() -> list[Any]:
                events = await events_of(sessions, case_id)
                return [e for e in events if e.type == "policy_changed"]

            [changed] = await eventually(followed, within=30)
            assert changed.actor == "gridcase seed" and changed.data["moved"]["reply"]
            # Reloading the same files again changes nothing, so nobody is told.
            assert await reseed(reloaded, open_cases_follow=True) == {}
        finally:
            await reseed(configured, open_cases_follow=False)  # the original policy back

"""The console and the Temporal UI in a real browser: Debian's Chromium driven by Playwright,
against the whole stack on real sockets (the API with its console, a worker, the Temporal dev
server with its UI behind the read-only proxy, decoding through the API's codec server), as
`gridcase up` runs it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.async_api import Browser, Page, async_playwright
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from api.main import create_app
from core.config import Settings
from core.temporal import data_converter
from tests.conftest import free_port, repo_root, unique_queue
from tests.integration.conftest import served
from worker.main import build_worker
from worker.stack import start_temporal
from worker.temporal_ui import read_only_ui

CHROMIUM = "/usr/bin/chromium"
# Without the networking flags Chromium reaches for the internet and its connections are refused.
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SCREENSHOTS = repo_root() / "test-output" / "browser"


@dataclass
class Stack:
    api: str  # the API and its console
    temporal_ui: str  # what the banner prints
    settings: Settings


@pytest.fixture(scope="session")
async def stack(
    settings: Settings, sessions: async_sessionmaker[AsyncSession]
) -> AsyncIterator[Stack]:
    api_port, ui_port, hidden_ui_port = free_port(), free_port(), free_port()
    env = await start_temporal(
        ui_port=hidden_ui_port,
        ui_codec_endpoint=f"http://127.0.0.1:{api_port}/codec",
        data_converter=data_converter(Settings()),
    )
    queue = unique_queue()
    laptop = settings.model_copy(
        update={
            "temporal_address": env.client.service_client.config.target_host,
            "task_queue": queue,
            "temporal_ui_port": ui_port,
            # as `gridcase up` on the laptop stack
            "codec_open": True,
            "demo_signin": True,
        }
    )
    try:
        async with (
            build_worker(env.client, sessions, queue),
            served(create_app(laptop), port=api_port) as api,
            served(read_only_ui(f"http://127.0.0.1:{hidden_ui_port}"), port=ui_port) as ui,
        ):
            yield Stack(api=api, temporal_ui=ui, settings=laptop)
    finally:
        await env.shutdown()


@pytest.fixture(scope="session")
async def browser() -> AsyncIterator[Browser]:
    async with async_playwright() as playwright:
        chromium = await playwright.chromium.launch(
            executable_path=CHROMIUM, args=CHROMIUM_FLAGS, headless=True
        )
        yield chromium
        await chromium.close()


@pytest.fixture
async def page(browser: Browser) -> AsyncIterator[Page]:
    context = await browser.new_context(
        locale="zh-CN", timezone_id="Asia/Shanghai", viewport={"width": 1280, "height": 860}
    )
    page = await context.new_page()
    yield page
    await context.close()


async def screenshot(page: Page, name: str) -> Path:
    """Into the tests' output folder, to look at."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    await page.screenshot(path=str(path), full_page=True)
    return path


async def sign_in(page: Page, stack: Stack, identity: str) -> None:
    """With one of the laptop stack's demo identities; lands on the work queue."""
    await page.goto(f"{stack.api}/console/signin")
    await page.locator(f"[data-testid=signin-identity][data-identity={identity}]").click()
    await page.wait_for_url(f"{stack.api}/console")


async def sign_out(page: Page) -> None:
    await page.get_by_role("button", name="退出").click()
    await page.wait_for_url("**/console/signin")

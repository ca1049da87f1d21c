"""/docs and /redoc draw from the package's own assets (no CDN on a city's intranet), and /docs
sends the token given to its Authorize button."""

from __future__ import annotations

from urllib.parse import urlsplit

from playwright.async_api import Page, Request, expect

from tests.browser.conftest import Stack, screenshot
from tests.conftest import bearer


async def test_docs_draw_offline_and_send_the_bearer_token(stack: Stack, page: Page) -> None:
    requests: list[Request] = []
    page.on("request", lambda request: requests.append(request))
    await page.goto(f"{stack.api}/docs")
    await page.get_by_role("button", name="Authorize").first.click()
    token = bearer("dispatcher")["Authorization"].removeprefix("Bearer ")
    await page.locator(".modal-ux input").fill(token)
    await page.locator(".modal-ux button.authorize").click()
    await page.locator(".modal-ux button.btn-done").click()

    await page.locator("#operations-reference_data-communities_v1_communities_get").click()
    await page.get_by_role("button", name="Try it out").click()
    await page.get_by_role("button", name="Execute").click()
    status = page.locator(".live-responses-table tbody .response-col_status")
    await expect(status.first).to_have_text("200")
    await screenshot(page, "docs")

    await page.goto(f"{stack.api}/redoc")
    # ReDoc renders its whole schema before the heading: slow on a busy machine.
    await expect(page.get_by_role("heading", name="gridcase").first).to_be_visible(timeout=60_000)
    await screenshot(page, "redoc")
    # Whatever a bundle asks of another host by itself is blocked by the page's policy.
    elsewhere = {
        (r.url, r.failure)
        for r in requests
        if r.url.startswith("http") and urlsplit(r.url).netloc != urlsplit(stack.api).netloc
    }
    assert all(failure == "csp" for _, failure in elsewhere), elsewhere

"""An operator opens a case in the Temporal UI at the address the banner prints: the payloads
decode (Chinese text, not base64), times are the subdistrict's, and no write action is offered."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import httpx
from playwright.async_api import Page, expect

from tests.browser.conftest import Stack, screenshot
from tests.conftest import bearer
from tests.integration.conftest import new_case


async def test_the_temporal_ui_shows_a_case_decoded_and_read_only(stack: Stack, page: Page) -> None:
    async with httpx.AsyncClient(base_url=stack.api, headers=bearer("dispatcher")) as api:
        filed = await api.post("/v1/cases", json=new_case(title="井盖松动有响声"))
        assert filed.status_code == 201, filed.text
    case_id = filed.json()["id"]
    codec_failures: list[str] = []
    page.on(
        "console",
        lambda message: (
            codec_failures.append(message.text)
            if message.type == "error" and "codec" in message.text.lower()
            else None
        ),
    )

    asked: list[str] = []
    page.on("request", lambda request: asked.append(request.url))
    await page.goto(f"{stack.temporal_ui}/namespaces/default/workflows/{case_id}")
    # The input is encrypted in history; the UI shows it decoded through the API's codec server.
    await expect(page.get_by_text("井盖松动有响声").first).to_be_visible(timeout=20_000)
    # Timer and activity summaries decode too (not "1 (1h, 35m, 59s)").
    await expect(
        page.get_by_text(re.compile(r"accept (reminder|deadline) GT-C01-G02")).first
    ).to_be_visible()
    await screenshot(page, "temporal-ui-case")
    # The current details: the next deadline in the subdistrict's time, not UTC (the UI renders
    # them as markdown in a frame of their own).
    await page.get_by_text("User Metadata", exact=True).click()
    await expect(page.get_by_text("Current Details")).to_be_visible()
    details = await _frames_text(page, "accept due")
    assert "(UTC+8)" in details and " UTC" not in details.replace("(UTC+8)", ""), details
    await screenshot(page, "temporal-ui-metadata")
    assert not codec_failures, codec_failures
    await expect(page.get_by_text("Codec Server could not connect")).to_have_count(0)
    # Write actions are off: no Terminate / Signal / Update / Reset button for anyone.
    await expect(page.get_by_role("button", name="Request Cancellation")).to_be_disabled()
    await expect(page.get_by_role("button", name="More Actions")).to_be_disabled()

    async with httpx.AsyncClient(base_url=stack.temporal_ui) as ui:
        terminate = await ui.post(
            f"/api/v1/namespaces/default/workflows/{case_id}/terminate", json={"reason": "x"}
        )
    assert terminate.status_code == 403
    # Nothing fetched from outside the stack (the dev UI's news feed is off): an intranet has
    # no internet to reach.
    ours = (urlsplit(stack.temporal_ui).netloc, urlsplit(stack.api).netloc)
    elsewhere = [
        url for url in asked if url.startswith("http") and urlsplit(url).netloc not in ours
    ]
    assert elsewhere == [], elsewhere


async def _frames_text(page: Page, containing: str) -> str:
    """The text of the first frame that shows `containing` (waiting for it to render)."""
    for _ in range(100):
        for frame in page.frames:
            text = await frame.evaluate("document.body ? document.body.innerText : ''")
            if containing in text:
                return str(text)
        await page.wait_for_timeout(100)
    raise AssertionError(f"no frame shows {containing!r}")

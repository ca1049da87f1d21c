"""The console in a real browser, as its people use it: sign in, file a case at the hotline, the
unit handles it from the case page, the return visit closes it; a role sees no button for an
action it may not take; the map (with its hot spots), the statistics and the flow analytics
draw."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime

import httpx
from playwright.async_api import Locator, Page, expect
from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from api.console.pages import DEMO_IDENTITIES
from db import hotspots
from db.models import HotspotRow
from domain.hotspot import HotspotRecord
from tests.browser.conftest import Stack, screenshot, sign_in, sign_out
from tests.conftest import bearer
from tests.integration.conftest import new_case

ROLE_WORDS = {
    "dispatcher": "调度员",
    "grid-team": "承办人",
    "civil-affairs": "承办人",
    "supervisor": "督办人",
    "grid-worker": "网格员",
    "police": "联动部门",
    "operator": "运维",
}


async def test_every_demo_identity_signs_in_and_sees_its_queue(stack: Stack, page: Page) -> None:
    assert set(DEMO_IDENTITIES) == set(ROLE_WORDS)
    await page.goto(f"{stack.api}/console")
    await expect(page).to_have_url(re.compile(r"/console/signin$"))  # no session, no queue
    await screenshot(page, "console-signin")
    for identity, role in ROLE_WORDS.items():
        await sign_in(page, stack, identity)
        await expect(page.get_by_test_id("signed-in-as")).to_contain_text(role)
        await expect(page.get_by_test_id("case-count")).to_be_visible()
        await expect(page.get_by_test_id("error")).to_have_count(0)
        await sign_out(page)
    # A pasted token that does not verify is refused with the reason.
    await page.locator("textarea[name=token]").fill("not-a-token")
    await page.get_by_role("button", name="登录", exact=True).click()
    await expect(page.get_by_test_id("error")).to_contain_text("令牌无效")


async def _act(page: Page, action: str, within: Locator | None = None, **fields: str) -> None:
    """Open the action's form (on the page, or within one part of it), fill it in, send it."""
    where = within or page
    await where.get_by_test_id(f"action-{action}").click()
    form = where.get_by_test_id(f"form-{action}")
    for name, value in fields.items():
        control = form.locator(f"[name={name}]")
        if await control.evaluate("e => e.tagName") == "SELECT":
            await control.select_option(value)
        else:
            await control.fill(value)
    await form.locator("button[type=submit]").click()
    await expect(page.get_by_test_id("done")).to_be_visible()


async def test_a_hotline_case_from_intake_to_closure(stack: Stack, page: Page) -> None:
    async with httpx.AsyncClient(base_url=stack.api, headers=bearer("dispatcher")) as api:
        earlier = (await api.post("/v1/cases", json=new_case())).json()  # flyers in C01-G02
    await sign_in(page, stack, "dispatcher")
    await page.get_by_test_id("nav-intake").click()
    form = page.get_by_test_id("intake-form")
    await form.locator("[name=category]").fill("public_order.flyers")
    await form.locator("[name=title]").fill("楼道小广告清了又贴")
    await form.locator("[name=description]").fill("3 号楼 2 单元楼道墙面贴满小广告")
    await form.locator("[name=address]").fill("怡顺社区 3 号楼 2 单元")
    await form.locator("[name=grid]").select_option("C01-G02")
    # Before filing: the open case of the same category in the same grid.
    await expect(page.get_by_test_id("possible-duplicate")).to_contain_text(earlier["id"])
    await page.locator("#pick-map").click(position={"x": 400, "y": 120})  # a point, too
    await expect(form.locator("[name=lat]")).not_to_have_value("")
    await form.locator("[name=name]").fill("李先生")
    await form.locator("[name=phone]").fill("13900000002")
    await screenshot(page, "console-intake")
    await form.get_by_role("button", name="受理并派单").click()
    await expect(page.get_by_test_id("done")).to_contain_text("已受理登记")
    await expect(page.get_by_test_id("case-status")).to_have_text("待签收")
    case_id = (await page.locator("h1 .id").inner_text()).strip()
    # The dispatcher may not sign for a unit's case: no button for it.
    await expect(page.get_by_test_id("action-accept")).to_have_count(0)
    await expect(page.get_by_test_id("action-reject")).to_have_count(1)
    await page.goto(f"{stack.api}/console")
    await expect(page.locator(f"[data-testid=case-row][data-case='{case_id}']")).to_be_visible()
    await screenshot(page, "console-queue")
    await sign_out(page)

    await sign_in(page, stack, "grid-team")
    await page.locator(f"[data-testid=case-row][data-case='{case_id}'] a").click()
    await expect(page.get_by_test_id("action-reject")).to_have_count(0)  # the dispatcher's
    await expect(page.get_by_test_id("action-reply")).to_have_count(0)  # not before accepting
    await _act(page, "accept")
    await expect(page.get_by_test_id("case-status")).to_have_text("办理中")
    await _act(page, "contact", note="已电话联系李先生，约定今天下午清理")
    await _act(page, "reply", result="已清理楼道小广告并张贴禁贴提示")
    await expect(page.get_by_test_id("case-status")).to_have_text("已答复")
    await expect(page.get_by_test_id("action-rate")).to_have_count(0)  # the resident's, not ours
    await sign_out(page)

    await sign_in(page, stack, "dispatcher")  # the hotline's return visit rates for the resident
    await page.goto(f"{stack.api}/console/cases/{case_id}")
    await _act(page, "rate", grade="satisfied", solved="true")
    await expect(page.get_by_test_id("case-status")).to_have_text("已办结")
    for gone in ("rate", "visit", "reply", "urge"):  # closed: nothing left to handle
        await expect(page.get_by_test_id(f"action-{gone}")).to_have_count(0)
    steps = await page.get_by_test_id("timeline-event").evaluate_all(
        "events => events.map(e => e.dataset.type)"
    )
    for step in ("received", "dispatched", "accept", "contact", "reply", "rate", "closed"):
        assert step in steps, steps
    await expect(
        page.get_by_test_id("timeline-event").filter(has_text="联系诉求人")
    ).to_contain_text("陈静@GT-C01-G02")
    await expect(page.get_by_test_id("deadline").first).to_be_visible()
    await screenshot(page, "console-case-closed")


async def test_the_map_draws_every_micro_grid(stack: Stack, page: Page) -> None:
    async with httpx.AsyncClient(base_url=stack.api, headers=bearer("dispatcher")) as api:
        assert (await api.post("/v1/cases", json=new_case())).status_code == 201  # in C01-G02
    await sign_in(page, stack, "supervisor")
    await page.goto(f"{stack.api}/console/map")
    shapes = page.get_by_test_id("grid-shape")
    await expect(shapes).to_have_count(107)
    # Coloured by the supervisor's open cases: C01-G02 has one, C02's grids are not theirs.
    await expect(page.locator("[data-grid=C01-G02]")).to_have_attribute("fill", "#ef8f00")
    await expect(page.locator("[data-grid=C02-G01]")).to_have_attribute("fill", "#4caf50")
    await shapes.first.click()
    await expect(page.get_by_role("link", name="查看本网格工单")).to_be_visible()
    await screenshot(page, "console-map")
    # A grid worker has no statistics: the shapes are drawn without figures, not as "no cases".
    await sign_out(page)
    await sign_in(page, stack, "grid-worker")
    await page.goto(f"{stack.api}/console/map")
    await expect(page.locator("[data-grid=C01-G02]")).to_have_attribute("fill", "#90a4ae")


async def test_an_open_hot_spot_is_outlined_on_the_map_with_its_governance_case(
    stack: Stack, page: Page, sessions: async_sessionmaker[AsyncSession]
) -> None:
    """What the hot spot workflow records (its worker runs with `governance` in production; the
    browser stack's does not, so the record is written here as its activity writes it)."""
    async with httpx.AsyncClient(base_url=stack.api, headers=bearer("dispatcher")) as api:
        filed = [
            (await api.post("/v1/cases", json=new_case(location=place))).json()["id"]
            for place in ({"address": "金水路 3 号", "grid": "C03-G05"},) * 3
        ]
    spot = HotspotRecord(
        key=f"hotspot:C03-G05:public_order.flyers:{uuid.uuid4().hex[:6]}",
        grid="C03-G05",
        community="C03",
        category="public_order.flyers",
        status="open",
        governance_case=filed[-1],
        cases=filed[:-1],
        raised_at=datetime.now(UTC),
    )
    async with sessions.begin() as session:
        await hotspots.record(session, spot)
    try:
        await sign_in(page, stack, "dispatcher")
        await page.goto(f"{stack.api}/console/map")
        grid = page.locator("[data-grid=C03-G05]")
        await expect(grid).to_have_attribute("data-hotspot", "true")
        await expect(grid).to_have_attribute("stroke-dasharray", "6 4")
        await expect(page.locator("[data-grid=C03-G04]")).not_to_have_attribute(
            "data-hotspot", "true"
        )
        await grid.click(force=True)
        await expect(page.get_by_text("热点: 楼道小广告")).to_contain_text("2 件诉求")
        await expect(page.get_by_role("link", name=filed[-1])).to_be_visible()
        await screenshot(page, "console-map-hotspot")
    finally:
        async with sessions.begin() as session:
            await session.execute(delete(HotspotRow).where(HotspotRow.key == spot.key))


async def test_the_flow_analytics_draw_their_charts(stack: Stack, page: Page) -> None:
    async with httpx.AsyncClient(base_url=stack.api, headers=bearer("dispatcher")) as api:
        assert (await api.post("/v1/cases", json=new_case())).status_code == 201
    await sign_in(page, stack, "dispatcher")
    await page.goto(f"{stack.api}/console/stats")
    await page.get_by_test_id("flow-link").click()
    await expect(page).to_have_url(re.compile("/console/stats/flow"))
    charts = page.get_by_test_id("flow-chart")
    await expect(charts).to_have_count(4)  # time in state, backlog, hand-offs, breaches
    for index in range(4):
        await expect(charts.nth(index).locator("svg").first).to_be_attached()
    await expect(page.locator("[data-flow=backlog] svg text", has_text="0-1")).to_be_attached()
    await screenshot(page, "console-flow")


async def test_the_statistics_draw_their_charts_and_table(stack: Stack, page: Page) -> None:
    async with httpx.AsyncClient(base_url=stack.api, headers=bearer("dispatcher")) as api:
        for category in ("public_order.flyers", "sanitation.dead_corner", "utilities.heating"):
            filed = await api.post("/v1/cases", json=new_case(category=category))
            assert filed.status_code == 201, filed.text
    await sign_in(page, stack, "dispatcher")
    await page.goto(f"{stack.api}/console/stats?by=category")
    charts = page.get_by_test_id("kpi-chart")
    await expect(charts).to_have_count(6)  # the five rates and the unreachable rate
    for index in range(6):  # ECharts drew each one (an svg with its bars)
        await expect(charts.nth(index).locator("svg path").first).to_be_attached()
    # The axis names the categories (the reference data's names, not their codes).
    axis = charts.first.locator("svg text")
    for name in ("楼道小广告", "环境卫生死角", "供暖不热"):
        await expect(axis.filter(has_text=name)).to_have_count(1)
    await expect(axis.filter(has_text="public_order")).to_have_count(0)
    await expect(page.get_by_test_id("kpi-table")).to_contain_text("环境卫生死角")
    await expect(page.get_by_test_id("kpi-table")).to_contain_text("办结率")
    async with page.expect_download() as download:
        await page.get_by_test_id("stats-csv").click()
    assert (await download.value).suggested_filename.endswith(".csv")
    await screenshot(page, "console-stats")


async def test_a_grid_worker_reports_and_resolves_on_a_phone(stack: Stack, page: Page) -> None:
    await page.set_viewport_size({"width": 390, "height": 844})
    await sign_in(page, stack, "grid-worker")
    await page.get_by_test_id("nav-intake").click()
    form = page.get_by_test_id("intake-form")
    await form.locator("[name=category]").fill("sanitation.dead_corner")
    await form.locator("[name=title]").fill("楼后垃圾堆积")
    await form.locator("[name=description]").fill("5 号楼后绿化带有建筑垃圾")
    await form.locator("[name=address]").fill("怡顺社区 5 号楼后")
    await form.locator("[name=grid]").select_option("C01-G02")
    await form.locator("[name=photo_url]").fill("https://photos.example/patrol/1.jpg")
    await form.locator("[name=name]").fill("孙淑臻")
    await form.locator("[name=phone]").fill("13800000004")
    await screenshot(page, "console-phone-intake")
    assert await page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    await form.get_by_role("button", name="上报").click()
    await expect(page.get_by_test_id("done")).to_be_visible()
    await _act(
        page,
        "resolve_on_site",
        evidence_url="https://photos.example/patrol/1-done.jpg",
        note="已联系物业当场清运",
    )
    await expect(page.get_by_test_id("case-status")).to_have_text("就地解决待确认")
    assert await page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    await screenshot(page, "console-phone-case")


async def _filed(stack: Stack) -> str:
    """A hotline case in C01-G02 (flyers: its grid team's), filed over the API."""
    async with httpx.AsyncClient(base_url=stack.api, headers=bearer("dispatcher")) as api:
        filed = await api.post("/v1/cases", json=new_case())
    assert filed.status_code == 201, filed.text
    return str(filed.json()["id"])


async def _reloaded_until(page: Page, testid: str, text: str) -> None:
    """Reload until the element says `text` (a change the page learns of, not one it made)."""
    for _ in range(50):
        if await page.get_by_test_id(testid).inner_text() == text:
            return
        await page.wait_for_timeout(200)
        await page.reload()
    await expect(page.get_by_test_id(testid)).to_have_text(text)


async def test_an_agency_reports_and_finishes_its_part_of_a_linkage(
    stack: Stack, page: Page
) -> None:
    case_id = await _filed(stack)
    await sign_in(page, stack, "dispatcher")
    await page.goto(f"{stack.api}/console/cases/{case_id}")
    await _act(
        page, "open_linkage", reason="小广告反复张贴，请派出所联合整治", agencies="DA-POLICE"
    )
    linkage = page.get_by_test_id("linkage")
    await expect(linkage.get_by_test_id("linkage-status")).to_have_text("进行中")
    police = linkage.locator("[data-testid=linkage-agency][data-agency=DA-POLICE]")
    await expect(police).to_contain_text("李沧公安分局沧口派出所")
    await expect(police).to_contain_text("报到时限")
    await expect(police.get_by_test_id("agency-status")).to_have_text("待报到")
    # The dispatcher coordinates (may release an agency, or summon another) but reports for none.
    await expect(police.get_by_test_id("action-release_agency")).to_have_count(1)
    await expect(linkage.get_by_test_id("action-add_agency")).to_have_count(1)
    await expect(page.get_by_test_id("action-report")).to_have_count(0)
    await expect(page.get_by_test_id("action-agency_done")).to_have_count(0)
    await sign_out(page)

    await sign_in(page, stack, "police")  # summoned: the case is in the agency's queue
    await page.locator(f"[data-testid=case-row][data-case='{case_id}'] a").click()
    police = page.locator("[data-testid=linkage-agency][data-agency=DA-POLICE]")
    await expect(police.get_by_test_id("action-agency_done")).to_have_count(0)  # report first
    await expect(police.get_by_test_id("action-release_agency")).to_have_count(0)
    await expect(page.get_by_test_id("action-accept")).to_have_count(0)  # the lead unit's
    await screenshot(page, "console-linkage-summoned")
    await _act(page, "report", within=police, note="民警已到现场")
    await expect(police.get_by_test_id("agency-status")).to_have_text("已报到")
    await expect(police).to_contain_text("办结时限")
    await expect(police.get_by_test_id("action-report")).to_have_count(0)
    await _act(page, "agency_done", within=police, note="已约谈张贴人员并登记")
    await expect(police.get_by_test_id("agency-status")).to_have_text("已办结")
    await expect(page.get_by_test_id("action-agency_done")).to_have_count(0)
    await _reloaded_until(page, "linkage-status", "已完成")
    steps = await page.get_by_test_id("timeline-event").evaluate_all(
        "events => events.map(e => e.dataset.type)"
    )
    for step in ("linkage_opened", "agency_reported", "agency_done", "linkage_closed"):
        assert step in steps, steps
    await screenshot(page, "console-linkage-done")


async def test_deadlines_a_closure_left_running_show_as_not_needed(
    stack: Stack, page: Page
) -> None:
    case_id = await _filed(stack)
    await sign_in(page, stack, "dispatcher")
    await page.goto(f"{stack.api}/console/cases/{case_id}")
    await expect(page.locator("[data-testid=deadline][data-kind=reply]")).to_have_attribute(
        "data-state", "pending"
    )
    await _act(page, "reject", reason="属于物业合同纠纷，非政府职责")
    await expect(page.get_by_test_id("case-status")).to_have_text("已办结")
    for kind in ("accept", "contact", "reply"):
        deadline = page.locator(f"[data-testid=deadline][data-kind={kind}]")
        await expect(deadline).to_have_attribute("data-state", "not_needed")
        await expect(deadline).to_contain_text("无需")
    closed = page.locator("[data-testid=timeline-event][data-type=closed]")
    await expect(
        closed.locator("[data-testid=timeline-deadline][data-state=pending]")
    ).to_have_count(0)
    await expect(closed).to_contain_text("答复时限：无需（已办结）")
    await screenshot(page, "console-case-rejected")


async def test_the_console_speaks_english_when_asked(stack: Stack, page: Page) -> None:
    case_id = await _filed(stack)
    await sign_in(page, stack, "grid-team")
    await page.get_by_test_id("language").click()
    await expect(page.get_by_test_id("signed-in-as")).to_contain_text("Unit handler")
    await expect(page.get_by_test_id("case-count")).to_contain_text("cases")
    await page.goto(f"{stack.api}/console/cases/{case_id}")  # the choice is remembered
    await expect(page.get_by_test_id("case-status")).to_have_text("Awaiting sign-for")
    await expect(page.locator("[data-testid=deadline][data-kind=accept]")).to_contain_text(
        "Sign-for deadline"
    )
    await expect(page.get_by_test_id("action-accept")).to_have_text("Sign for")
    await _act(page, "accept")
    await expect(page.get_by_test_id("done")).to_have_text("Sign for: done")
    await expect(page.get_by_test_id("case-status")).to_have_text("In progress")
    await screenshot(page, "console-case-english")
    await page.get_by_test_id("language").click()
    await expect(page.get_by_test_id("case-status")).to_have_text("办理中")


async def test_a_grid_worker_verifies_a_units_fix_on_a_phone(stack: Stack, page: Page) -> None:
    patrol = new_case(channel="grid_patrol", photo_url="https://photos.example/patrol/2.jpg")
    worker = bearer("grid_worker", grids=("C01-G02",))
    async with httpx.AsyncClient(base_url=stack.api) as api:
        filed = await api.post("/v1/cases", json=patrol, headers=worker)
        assert filed.status_code == 201, filed.text
        case = filed.json()
        handler = bearer("unit_handler", unit=case["unit"])
        for action, body in (
            ("accept", {}),
            ("contact", {"note": "已联系"}),
            ("reply", {"result": "已清理"}),
        ):
            done = await api.post(f"/v1/cases/{case['id']}/{action}", json=body, headers=handler)
            assert done.status_code == 200, done.text
    assert done.json()["status"] == "verifying"
    await page.set_viewport_size({"width": 390, "height": 844})
    await sign_in(page, stack, "grid-worker")
    await page.locator(f"[data-testid=case-row][data-case='{case['id']}'] a").click()
    await expect(page.get_by_test_id("case-status")).to_have_text("待核查")
    await _act(
        page,
        "verify",
        fixed="true",
        note="现场查看已清理干净",
        evidence_url="https://photos.example/patrol/2-checked.jpg",
    )
    await expect(page.get_by_test_id("case-status")).to_have_text("已办结")
    await expect(page.get_by_text("核查办结")).to_be_visible()
    assert await page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    await screenshot(page, "console-phone-verify")


async def test_a_supervisor_finds_a_twice_unsatisfied_case_in_the_review_queue(
    stack: Stack, page: Page
) -> None:
    case_id = await _filed(stack)
    handler = bearer("unit_handler", unit="GT-C01-G02")
    dispatcher = bearer("dispatcher")
    unsatisfied = {"grade": "unsatisfied", "solved": False}
    steps = [
        ("accept", {}, handler),
        ("contact", {"note": "已联系"}, handler),
        ("reply", {"result": "已清理"}, handler),
        ("rate", unsatisfied, dispatcher),  # re-handling
        ("reply", {"result": "再次清理并张贴提示"}, handler),
        ("rate", unsatisfied, dispatcher),  # unsatisfied again: a supervisor decides
    ]
    async with httpx.AsyncClient(base_url=stack.api) as api:
        for action, body, who in steps:
            done = await api.post(f"/v1/cases/{case_id}/{action}", json=body, headers=who)
            assert done.status_code == 200, (action, done.text)
    await sign_in(page, stack, "supervisor")
    await page.goto(f"{stack.api}/console/stats")
    queue = page.get_by_test_id("review-queue")
    await expect(queue).to_contain_text(case_id)
    await screenshot(page, "console-review-queue")
    await queue.locator("a", has_text=case_id).click()
    await expect(page.get_by_test_id("action-reopen")).to_have_count(1)
    await _act(page, "review_close", verdict="已两次处理，问题属于历史遗留，予以办结")
    await expect(page.get_by_test_id("case-status")).to_have_text("已办结")
    await page.goto(f"{stack.api}/console/stats")
    await expect(page.get_by_test_id("review-queue")).to_have_count(0)


async def test_a_dispatcher_splits_a_case_with_the_generic_form(stack: Stack, page: Page) -> None:
    """An action added to the API (拆分) works from its form read off the input model: a list of
    records, written as JSON like the form's example."""
    case_id = await _filed(stack)
    await sign_in(page, stack, "dispatcher")
    await page.goto(f"{stack.api}/console/cases/{case_id}")
    place = '"location": {"address": "怡顺社区 3 号楼", "grid": "C01-G02"}'
    children = (
        f'[{{"category": "public_order.flyers", "title": "楼道小广告", {place}}},'
        f' {{"category": "sanitation.dead_corner", "title": "楼后垃圾", {place}}}]'
    )
    await _act(page, "split", children=children, reason="一件诉求含两件事")
    await expect(page.get_by_test_id("case-status")).to_have_text("已拆分（待子工单办结）")
    kids = page.get_by_test_id("child-case")
    await expect(kids).to_have_count(2)
    await expect(kids.first).to_contain_text("楼道小广告")
    await kids.first.locator("a").click()
    await expect(page.get_by_test_id("parent-case")).to_have_text(case_id)
    await screenshot(page, "console-split-child")

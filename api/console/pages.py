"""The console's pages: sign-in, the work queue, a case with its actions, and intake. Every read
and every action goes through the API (api.console.client) as the signed-in person."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from api.auth import NotAuthenticated, principal_of
from api.console import forms, session
from api.console.client import Api, ApiError
from api.console.web import ApiDep, Signed, Visitor, csrf_checked, error_text, render
from api.console.words import chosen
from api.deps import SettingsDep
from core.auth import issue
from domain.case import CaseStatus, Deadline
from domain.linkage import LinkageAction, LinkageView, linkage_actions
from domain.permissions import Principal, Role
from domain.timeline import standing

router = APIRouter(prefix="/console", include_in_schema=False)


# ---- sign in ------------------------------------------------------------------------------------

# The laptop stack's ready identities (`gridcase up` with embedded Temporal only); their labels
# are in the words tables (identity_<key>).
DEMO_IDENTITIES: dict[str, Principal] = {
    "dispatcher": Principal(subject="王敏", role=Role.dispatcher),
    "grid-team": Principal(subject="陈静", role=Role.unit_handler, unit="GT-C01-G02"),
    "civil-affairs": Principal(subject="刘洋", role=Role.unit_handler, unit="SD-CIVIL"),
    "supervisor": Principal(subject="赵书记", role=Role.supervisor, community="C01"),
    "grid-worker": Principal(subject="孙淑臻", role=Role.grid_worker, grids=("C01-G02",)),
    "police": Principal(subject="周警官", role=Role.agency, unit="DA-POLICE"),
    "operator": Principal(subject="运维值班", role=Role.operator),
}


@router.get("/signin", response_class=HTMLResponse)
async def signin_page(
    request: Request, settings: SettingsDep, error: str | None = None
) -> Response:
    nonce = session.new_signin_nonce()
    page = render(
        request,
        "signin.html",
        None,
        status=401 if error else 200,
        nonce=nonce,
        error=error,
        identities=DEMO_IDENTITIES if settings.demo_signin else {},
    )
    session.set_cookie(request, page, session.SIGNIN_COOKIE, nonce, max_age=3600)
    return page


@router.post("/signin")
async def signin(request: Request, settings: SettingsDep) -> Response:
    said = chosen(request)
    form = {k: str(v) for k, v in (await request.form()).items()}
    nonce = request.cookies.get(session.SIGNIN_COOKIE)
    if not nonce or form.get("nonce") != nonce:
        return await signin_page(request, settings, error=said.ERROR["invalid_csrf"])
    identity = form.get("identity")
    if identity:
        if not settings.demo_signin or identity not in DEMO_IDENTITIES:
            return await signin_page(request, settings, error=said.UI["no_such_identity"])
        token = issue(settings, DEMO_IDENTITIES[identity], timedelta(hours=12))
    else:
        token = form.get("token", "").strip().removeprefix("Bearer ").strip()
        try:
            principal_of(settings, token)
        except NotAuthenticated as bad:
            return await signin_page(
                request, settings, error=said.error("invalid_token", bad.message)
            )
    done = RedirectResponse("/console", status_code=303)
    session.start(request, done, token)
    return done


@router.post("/signout")
async def signout(request: Request, who: Signed) -> Response:
    await csrf_checked(request, who)
    done = RedirectResponse("/console/signin", status_code=303)
    session.end(done)
    return done


# ---- the work queue -----------------------------------------------------------------------------

QUEUE_FILTERS = ("status", "community", "grid", "unit", "category", "q")


async def _queue(api: Api, who: Visitor, filters: dict[str, str]) -> dict[str, Any]:
    """The caller's cases, soonest deadline first, with at-risk and overdue marked, and how many
    match in all (one count query, not a page)."""
    query = {k: v for k, v in filters.items() if k in QUEUE_FILTERS and v}
    page = await api.get("/v1/cases", sort="due", limit=100, **query)
    risky = await api.get("/v1/cases", sort="due", limit=100, at_risk="true", **query)
    count = await api.get("/v1/cases/count", sort="due", **query)
    waiting = []
    if who.principal.role in (Role.dispatcher, Role.admin) and not query:
        # Returned by a unit, or placed off the map (routed to the governance centre): the
        # dispatcher decides where they go.
        returned = await api.get("/v1/cases", status="returned", limit=50)
        centre = await api.get("/v1/cases", unit="SD-CENTER", sort="due", limit=50)
        seen: set[str] = set()
        for case in returned["items"] + centre["items"]:
            if case["id"] not in seen and case["status"] != "closed":
                seen.add(case["id"])
                waiting.append(case)
    return {
        "cases": page["items"],
        "count": count,
        "at_risk": {c["id"] for c in risky["items"]},
        "waiting": waiting,
        "now": datetime.now(UTC),
        "names": await _names(api),
    }


@router.get("", response_class=HTMLResponse)
async def queue(request: Request, who: Signed, api: ApiDep) -> Response:
    filters = {k: request.query_params.get(k, "") for k in QUEUE_FILTERS}
    try:
        listed = await _queue(api, who, filters)
    except ApiError as error:
        return render(
            request,
            "queue.html",
            who,
            status=error.status,
            error=error_text(request, error),
            filters=filters,
            cases=[],
            waiting=[],
            at_risk=set(),
            count=None,
            names=await _names(api),
        )
    return render(request, "queue.html", who, filters=filters, **listed)


@router.get("/rows", response_class=HTMLResponse)
async def queue_rows(request: Request, who: Signed, api: ApiDep) -> Response:
    """The queue's rows and live count (htmx polls and filters with it)."""
    filters = {k: request.query_params.get(k, "") for k in QUEUE_FILTERS}
    try:
        listed = await _queue(api, who, filters)
    except ApiError as error:
        return render(
            request, "_error.html", who, status=error.status, error=error_text(request, error)
        )
    return render(request, "_rows.html", who, **listed)


async def _names(api: Api) -> dict[str, dict[str, str]]:
    """Categories, units and communities by code, to show their names."""
    return {
        kind: {item["code"]: item["name"] for item in await api.get(path)}
        for kind, path in (
            ("category", "/v1/categories"),
            ("unit", "/v1/units"),
            ("community", "/v1/communities"),
        )
    }


# ---- one case -----------------------------------------------------------------------------------


@router.get("/cases/{case_id}", response_class=HTMLResponse)
async def case_page(request: Request, case_id: str, who: Signed, api: ApiDep) -> Response:
    return await _case(request, case_id, who, api, done=request.query_params.get("done"))


async def _case(
    request: Request,
    case_id: str,
    who: Visitor,
    api: Api,
    error: str | None = None,
    status: int = 200,
    done: str | None = None,
) -> Response:
    said = chosen(request)
    try:
        case = await api.get(f"/v1/cases/{case_id}")
        events = await api.get(f"/v1/cases/{case_id}/events")
        names = await _names(api)
    except ApiError as failed:
        return render(
            request,
            "_page_error.html",
            who,
            status=failed.status,
            error=error_text(request, failed),
        )
    units = names["unit"]
    actions = [a for a in case["allowed_actions"] if a in forms.INPUTS]
    closed = case["status"] == CaseStatus.closed
    deadlines = [(d, standing(Deadline.model_validate(d), closed).state) for d in case["deadlines"]]
    per_agency: dict[str, list[tuple[str, list[forms.Field]]]] = {}
    to_add: list[tuple[str, list[forms.Field]]] = []
    if case.get("linkage"):
        view = LinkageView.model_validate(case["linkage"])
        allowed = linkage_actions(view, who.principal, tuple(units))
        summoned = {part.unit for part in view.agencies}
        for agency, linkage_allowed in allowed.items():
            if agency in summoned:
                per_agency[agency] = [
                    (a.value, forms.fields(a.value, said, units, fixed={"agency": agency}))
                    for a in linkage_allowed
                ]
        # One form to summon any agency the linkage may still take.
        addable = {u: units[u] for u, can in allowed.items() if u not in summoned and can}
        if addable:
            add = LinkageAction.add_agency.value
            to_add.append((add, forms.fields(add, said, addable)))
    return render(
        request,
        "case.html",
        who,
        status=status,
        case=case,
        events=events,
        names=names,
        deadlines=deadlines,
        actions=[(a, forms.fields(a, said, units)) for a in actions],
        linkage_actions=per_agency,
        linkage_add=to_add,
        idempotency_key=str(uuid.uuid4()),
        error=error,
        done=done,
        now=datetime.now(UTC),
    )


@router.post("/cases/{case_id}/act/{action}")
async def act(request: Request, case_id: str, action: str, who: Signed, api: ApiDep) -> Response:
    """One action from its form: the API's Update, then back to the case page."""
    said = chosen(request)
    try:
        form = await csrf_checked(request, who)
        if action not in forms.INPUTS:
            raise ApiError(404, "not_allowed_now", f"no action {action}")
        path = forms.INPUTS[action][0]
        answer = await api.post(
            f"/v1/cases/{case_id}/{path}",
            forms.body(action, form),
            idempotency_key=form.get("idempotency_key") or None,
        )
        if path.startswith(LINKAGE_PATH):
            await _case_knows(api, case_id, LinkageView.model_validate(answer))
    except ApiError as error:
        return await _case(
            request, case_id, who, api, error=error_text(request, error), status=error.status
        )
    except ValueError as bad:
        return await _case(
            request, case_id, who, api, error=said.error("invalid_body", str(bad)), status=422
        )
    return RedirectResponse(f"/console/cases/{case_id}?done={action}", status_code=303)


LINKAGE_PATH = "linkage/"


async def _case_knows(api: Api, case_id: str, linkage: LinkageView, wait: float = 5.0) -> None:
    """A linkage tells its case of each change by a signal; until the case has it, the case page
    would show (and offer) the linkage as it was. Wait briefly for it."""
    parts = [(p.unit, p.status.value) for p in linkage.agencies]
    deadline = asyncio.get_running_loop().time() + wait
    while asyncio.get_running_loop().time() < deadline:
        case = await api.get(f"/v1/cases/{case_id}")
        shown = case.get("linkage") or {}
        if [(p["unit"], p["status"]) for p in shown.get("agencies", [])] == parts:
            return
        await asyncio.sleep(0.1)


# ---- intake -------------------------------------------------------------------------------------

INTAKE_FIELDS = (
    "channel",
    "external_ref",
    "category",
    "severity",
    "title",
    "description",
    "address",
    "grid",
    "lat",
    "lon",
    "name",
    "phone",
    "photo_url",
)


@router.get("/intake", response_class=HTMLResponse)
async def intake_page(request: Request, who: Signed, api: ApiDep) -> Response:
    return await _intake(request, who, api, {})


async def _intake(
    request: Request,
    who: Visitor,
    api: Api,
    form: dict[str, str],
    error: str | None = None,
    status: int = 200,
) -> Response:
    patrol = who.principal.role is Role.grid_worker
    return render(
        request,
        "intake.html",
        who,
        status=status,
        form=form,
        error=error,
        patrol=patrol,
        grids=await api.get("/v1/grids"),
        categories=await api.get("/v1/categories"),
    )


@router.get("/intake/similar", response_class=HTMLResponse)
async def similar(request: Request, who: Signed, api: ApiDep) -> Response:
    """Open cases of the same category in the same micro-grid: a possible duplicate, shown before
    filing (the API flags one within 250 m once filed, when the place has a point)."""
    category = request.query_params.get("category", "")
    grid = request.query_params.get("grid", "")
    cases: list[dict[str, Any]] = []
    if category and grid:
        listed = await api.get("/v1/cases", category=category, grid=grid, limit=20)
        cases = [c for c in listed["items"] if c["status"] != "closed"]
    return render(request, "_similar.html", who, cases=cases)


@router.post("/intake")
async def file_intake(request: Request, who: Signed, api: ApiDep) -> Response:
    form: dict[str, str] = {}
    try:
        form = await csrf_checked(request, who)
        patrol = who.principal.role is Role.grid_worker
        value = {k: (form.get(k) or "").strip() or None for k in INTAKE_FIELDS}
        location: dict[str, Any] = {"address": value["address"], "grid": value["grid"]}
        if value["lat"] and value["lon"]:
            location.update(lat=float(value["lat"]), lon=float(value["lon"]))
        body: dict[str, Any] = {
            "channel": "grid_patrol" if patrol else value["channel"] or "hotline",
            "category": value["category"],
            "title": value["title"],
            "description": value["description"],
            "location": {k: v for k, v in location.items() if v is not None},
            "reporter": {"name": value["name"], "phone": value["phone"]},
        }
        for optional in ("external_ref", "severity", "photo_url"):
            if value[optional]:
                body[optional] = value[optional]
        case = await api.post("/v1/cases", body)
    except ApiError as error:
        return await _intake(
            request, who, api, form, error_text(request, error), status=error.status
        )
    except ValueError as bad:
        return await _intake(
            request, who, api, form, chosen(request).error("invalid_body", str(bad)), status=422
        )
    return RedirectResponse(f"/console/cases/{case['id']}?done=create", status_code=303)

"""The Open311 GeoReport v2 endpoint (`/open311/v2`), its service discovery
(`/open311/discovery`) and FixMyStreet's `servicerequestupdates` extension.

Every parameter is read by hand so that no validation error escapes in a non-Open311 shape.
Public reads show only the cases of the channels the city publishes (by default, cases filed
through Open311), never the reporter, and mask phone numbers typed into free text."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi import APIRouter, Request, Response
from pydantic import ValidationError
from sqlalchemy import Select, func, select
from sqlalchemy.dialects.postgresql import distinct_on
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from api.auth import rate_limited
from api.deps import SettingsDep, TemporalDep
from api.errors import ReferenceTaken
from api.intake import file_case
from api.routes.open311.formats import (
    Open311Error,
    refuse_control_characters,
    render,
    spec_errors,
    w3,
    when,
)
from api.routes.open311.mapping import (
    MAX_DESCRIPTION,
    MAX_ROWS,
    PUBLIC_EVENT,
    answers,
    definition_out,
    definitions,
    expected,
    request_out,
    service_out,
    update_out,
    updates_in,
    with_answers,
)
from api.schemas import CaseCreate
from core.config import Settings
from db.models import Case, CaseEventRow, CaseIntakeKey, Category, Unit
from domain.case import Channel, ContactRule, Deadline, missing_contact
from domain.permissions import Principal, Role

router = APIRouter(prefix="/open311", tags=["open311"])

# GeoReport v2: a range defaults to, and may not span more than, 90 days.
MAX_RANGE = timedelta(days=90)
SPECIFICATION = "http://wiki.open311.org/GeoReport_v2"
_CONTACT = {
    ContactRule.phone_or_email: "a phone number or an email address of the reporter",
    ContactRule.phone: "the reporter's phone number",
    ContactRule.email: "the reporter's email address",
}


# ---- discovery and services ----------------------------------------------------------------


@router.get("/discovery.{fmt}")
@spec_errors
async def discovery(fmt: str, request: Request, settings: SettingsDep) -> Response:
    """Where the endpoint is and what it speaks; `changeset` moves when the services do."""
    changed = datetime.fromtimestamp(
        (settings.config_dir / "service_definitions.yaml").stat().st_mtime, UTC
    )
    body = {
        "changeset": w3(changed),
        "contact": "One jurisdiction per endpoint: jurisdiction_id is accepted and ignored. "
        f"Posting needs an api_key from the city, and {_CONTACT[settings.contact_rule]}.",
        "key_service": "Ask the city's dispatch office for an api_key.",
        "endpoints": [
            {
                "specification": SPECIFICATION,
                "url": str(request.base_url).rstrip("/") + "/open311/v2",
                "changeset": w3(changed),
                "type": "production",
                "formats": ["application/json", "text/xml"],
            }
        ],
    }
    return render(fmt, body, "discovery", "discovery")


@router.get("/v2/services.{fmt}")
@spec_errors
async def services(fmt: str, request: Request, settings: SettingsDep) -> Response:
    async with _sessions(request)() as session:
        categories = (await session.scalars(select(Category).order_by(Category.code))).all()
    questions = definitions(settings.config_dir)
    body = [service_out(c, questions) for c in categories if c.government_matter]
    return render(fmt, body, "services", "service")


@router.get("/v2/services/{code}.{fmt}")
@spec_errors
async def service_definition(
    code: str, fmt: str, request: Request, settings: SettingsDep
) -> Response:
    async with _sessions(request)() as session:
        category = await session.get(Category, code)
    if category is None:
        raise Open311Error(404, f"no service {code[:64]!r}")
    body = definition_out(code, definitions(settings.config_dir).get(code, []))
    return render(fmt, body, "service_definition", "service_definition")


# ---- posting a request ---------------------------------------------------------------------


@router.post("/v2/requests.{fmt}")
@spec_errors
async def post_request(
    fmt: str, request: Request, temporal: TemporalDep, settings: SettingsDep
) -> Response:
    """Form-encoded, as the spec says; answers `service_request_id` (routing done) at once.
    The same client's retry (same Idempotency-Key header, or the same form within the retry
    window) answers 200 with the case it filed the first time."""
    form = await request.form()
    fields = [(k, v) for k, v in form.multi_items() if isinstance(v, str)]
    field = dict(fields)  # single-valued parameters: the last one wins, as in most servers
    refuse_control_characters(fields)
    api_key = field.get("api_key", "")
    if api_key not in settings.open311_api_keys:
        raise Open311Error(403, "a valid api_key is required to post service requests")
    client = hashlib.sha256(api_key.encode()).hexdigest()[:12]
    rate_limited(request, f"open311:{client}")
    body = await _case_from_form(request, settings, field, fields)
    body.external_ref = await _intake_ref(request, settings, client, fields)
    # The reference carries the client, so a taken one is this client's own earlier request:
    # its id is all the answer says (an Open311 client sees no case through intake).
    principal = Principal(subject=f"open311:{client}", role=Role.resident)
    try:
        case = (await file_case(_sessions(request), temporal, settings, body, principal)).case
        case_id, deadlines, status = case.id, case.deadlines, 201
    except ReferenceTaken:
        case_id, deadlines = await _filed_before(request, body.external_ref)
        status = 200
    notice = f"预计答复时限 {expected(deadlines) or '待派单'}"
    answer = [{"service_request_id": case_id, "service_notice": notice, "account_id": None}]
    return render(fmt, answer, "service_requests", "request", status)


async def _filed_before(request: Request, external_ref: str) -> tuple[str, list[Deadline]]:
    async with _sessions(request)() as session:
        key = await session.get(CaseIntakeKey, (Channel.open311.value, external_ref))
        assert key is not None  # a taken reference has its key
        case = await session.get(Case, key.case_id)
    return key.case_id, [Deadline.model_validate(d) for d in case.deadlines] if case else []


async def _case_from_form(
    request: Request, settings: Settings, field: dict[str, str], fields: list[tuple[str, str]]
) -> CaseCreate:
    code = field.get("service_code")
    if not code:
        raise Open311Error(400, "service_code is required")
    async with _sessions(request)() as session:
        category = await session.get(Category, code)
    if category is None or not category.government_matter:
        raise Open311Error(404, f"no service {code[:64]!r}")
    lat, lon = field.get("lat"), field.get("long")
    address = field.get("address_string") or field.get("address_id")
    if not address and not (lat and lon):
        raise Open311Error(400, "a location is required: lat and long, or address_string")
    description = (field.get("description") or "").strip() or category.name
    if len(description) > MAX_DESCRIPTION:
        raise Open311Error(
            400, f"description has {len(description)} characters; the limit is {MAX_DESCRIPTION}"
        )
    chosen = answers(fields, definitions(settings.config_dir).get(code, []))
    name = " ".join(p for p in (field.get("first_name"), field.get("last_name")) if p)
    try:
        body = CaseCreate.model_validate(
            {
                "channel": Channel.open311.value,
                "category": code,
                "title": category.name,
                "description": with_answers(description, chosen),
                "location": {
                    "address": address or f"{lat},{lon}",
                    "lat": float(lat) if lat else None,
                    "lon": float(lon) if lon else None,
                },
                "reporter": {
                    "name": name or "Open311",
                    "phone": field.get("phone") or None,
                    "email": field.get("email") or None,
                },
                "photo_url": field.get("media_url") or None,
            }
        )
    except (ValidationError, ValueError) as invalid:
        raise Open311Error(400, _explain(invalid)) from None
    if missing := missing_contact(body.reporter, settings.contact_rule):
        raise Open311Error(400, f"{missing} by this jurisdiction's contact rule")
    return body


def _explain(error: Exception) -> str:
    if isinstance(error, ValidationError):
        first = error.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        if where == "reporter.phone":
            return "phone: not a phone number (digits, 5 to 20)"
        if where == "reporter.email":
            return "email: not an email address"
        return f"{where}: {first['msg']}"
    return "lat and long must be numbers"


async def _intake_ref(
    request: Request, settings: Settings, client: str, fields: list[tuple[str, str]]
) -> str:
    """The case's intake reference, so a retry finds the first case: the client's own
    Idempotency-Key, else a fingerprint of the form within the retry window."""
    if key := request.headers.get("Idempotency-Key"):
        if not 1 <= len(key) <= 64 or not key.isprintable():
            raise Open311Error(400, "Idempotency-Key: 1 to 64 printable characters")
        return f"{client}:key:{key}"
    form = "&".join(f"{k}={v}" for k, v in sorted(fields) if k != "api_key")
    fingerprint = hashlib.sha256(form.encode()).hexdigest()[:32]
    window = settings.open311_retry_window_seconds
    slot = int(datetime.now(UTC).timestamp() // window)
    # A retry just after a slot boundary still finds the request of the slot before.
    earlier = f"{client}:same:{fingerprint}:{slot - 1}"
    async with _sessions(request)() as session:
        found = await session.scalar(
            select(CaseIntakeKey.external_ref).where(
                CaseIntakeKey.channel == Channel.open311.value,
                CaseIntakeKey.external_ref == earlier,
                CaseIntakeKey.created_at > func.now() - timedelta(seconds=window),
            )
        )
    return found or f"{client}:same:{fingerprint}:{slot}"


# ---- reading requests and updates (public) -------------------------------------------------


@router.get("/v2/tokens/{token}.{fmt}")
@spec_errors
async def token(token: str, fmt: str, request: Request, settings: SettingsDep) -> Response:
    """Requests are created at once, so a token is the service_request_id itself."""
    async with _sessions(request)() as session:
        case = await session.scalar(_published(settings).where(Case.id == token))
    if case is None:
        raise Open311Error(404, f"no token {token[:40]!r}")
    body = [{"service_request_id": case.id, "token": token}]
    return render(fmt, body, "service_requests", "request")


@router.get("/v2/requests.{fmt}")
@spec_errors
async def get_requests(fmt: str, request: Request, settings: SettingsDep) -> Response:
    params = dict(request.query_params)
    query = _published(settings).order_by(Case.number.desc()).limit(MAX_ROWS)
    if ids := params.get("service_request_id"):  # overrides every other parameter (the spec)
        query = query.where(Case.id.in_([i.strip() for i in ids.split(",") if i.strip()]))
    else:
        start, end = _window(params)
        query = query.where(Case.received_at >= start, Case.received_at <= end)
        if codes := params.get("service_code"):
            query = query.where(Case.category.in_([c.strip() for c in codes.split(",")]))
        if wanted := params.get("status"):
            states = {s.strip() for s in wanted.split(",")}
            if not states <= {"open", "closed"}:
                raise Open311Error(400, "status is open or closed")
            if states == {"open"}:
                query = query.where(Case.status != "closed")
            elif states == {"closed"}:
                query = query.where(Case.status == "closed")
    async with _sessions(request)() as session:
        rows = (await session.scalars(query)).all()
        body = await _requests_out(session, rows)
    return render(fmt, body, "service_requests", "request")


@router.get("/v2/requests/{request_id}.{fmt}")
@spec_errors
async def get_request(
    request_id: str, fmt: str, request: Request, settings: SettingsDep
) -> Response:
    async with _sessions(request)() as session:
        case = await session.scalar(_published(settings).where(Case.id == request_id))
        if case is None:
            raise Open311Error(404, f"no service request {request_id[:40]!r}")
        body = await _requests_out(session, [case])
    return render(fmt, body, "service_requests", "request")


@router.get("/v2/servicerequestupdates.{fmt}")
@spec_errors
async def updates(fmt: str, request: Request, settings: SettingsDep) -> Response:
    """FixMyStreet's extension: every public step of a published case in the window, oldest
    first (`update_id` is the case id and the event's sequence number)."""
    start, end = _window(dict(request.query_params))
    query = updates_in(settings.open311_public_channels, start, end)
    async with _sessions(request)() as session:
        events = (await session.scalars(query)).all()
        names = await _names(session)
    body = [update_out(e, names) for e in events]
    return render(fmt, body, "service_request_updates", "request_update")


def _published(settings: Settings) -> Select[Case]:
    return select(Case).where(Case.channel.in_(settings.open311_public_channels))


async def _requests_out(session: AsyncSession, cases: Any) -> list[dict[str, Any]]:
    """The cases with their latest public step before closure (its words explain the status:
    the unit's reply, a rejection's reason), one query for all."""
    ids = [c.id for c in cases]
    latest = await session.scalars(
        select(CaseEventRow)
        .where(CaseEventRow.case_id.in_(ids), PUBLIC_EVENT, CaseEventRow.type != "closed")
        .order_by(CaseEventRow.case_id, CaseEventRow.seq.desc())
        .ext(distinct_on(CaseEventRow.case_id))
    )
    steps = {e.case_id: e for e in latest}
    names = await _names(session)
    return [request_out(c, names, steps.get(c.id)) for c in cases]


async def _names(session: AsyncSession) -> dict[str, str]:
    """Unit and category names by code, read once per request rather than once per row."""
    rows = await session.execute(
        select(Unit.code, Unit.name).union_all(select(Category.code, Category.name))
    )
    return {code: name for code, name in rows}


def _window(params: dict[str, str]) -> tuple[datetime, datetime]:
    end = when("end_date", params.get("end_date")) or datetime.now(UTC)
    start = when("start_date", params.get("start_date")) or end - MAX_RANGE
    if start > end:
        raise Open311Error(400, "start_date is after end_date")
    if end - start > MAX_RANGE:
        raise Open311Error(400, "start_date to end_date may not span more than 90 days")
    return start, end


def _sessions(request: Request) -> async_sessionmaker[AsyncSession]:
    sessions: async_sessionmaker[AsyncSession] = request.app.state.sessions
    return sessions

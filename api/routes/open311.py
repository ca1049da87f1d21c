"""Open311 GeoReport v2 (/open311/v2): how city apps and 311 clients talk to gridcase.

Services are our categories; a service request is a case (channel `open311`). Formats: `.json`
or `.xml`; errors in the spec's own shape (`[{"code", "description"}]`), never ours. Every
parameter is read by hand so that no validation error escapes in a non-Open311 shape.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Any, TypeVar
from xml.etree import ElementTree

import yaml
from fastapi import APIRouter, Request, Response
from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from api.auth import TooManyRequests, rate_limited
from api.deps import SettingsDep, TemporalDep
from api.intake import file_case
from api.schemas import CaseCreate
from db.models import Case, Category, Unit
from domain.case import Channel, Deadline
from domain.permissions import Principal, Role
from domain.sla import DeadlineKind

router = APIRouter(prefix="/open311/v2", tags=["open311"])

# GeoReport v2: a range defaults to, and may not span more than, 90 days.
MAX_RANGE = timedelta(days=90)
MAX_REQUESTS = 1000


class Open311Error(Exception):
    def __init__(self, status: int, description: str) -> None:
        super().__init__(description)
        self.status, self.description = status, description


def _render(fmt: str, body: Any, root: str, item: str, status: int = 200) -> Response:
    if fmt == "xml":
        return Response(_xml(body, root, item), status_code=status, media_type="text/xml")
    return Response(
        json.dumps(body, ensure_ascii=False, default=str),
        status_code=status,
        media_type="application/json",
    )


def _xml(body: Any, root: str, item: str) -> bytes:
    top = ElementTree.Element(root)
    for entry in body if isinstance(body, list) else [body]:
        _fill(ElementTree.SubElement(top, item) if isinstance(body, list) else top, entry)
    xml: bytes = ElementTree.tostring(top, encoding="utf-8", xml_declaration=True)
    return xml


def _fill(element: ElementTree.Element, value: Any) -> None:
    if isinstance(value, dict):
        for key, inner in value.items():
            if isinstance(inner, list):
                holder = ElementTree.SubElement(element, key)
                for entry in inner:
                    _fill(ElementTree.SubElement(holder, key.rstrip("s") or key), entry)
            else:
                _fill(ElementTree.SubElement(element, key), inner)
    elif value is not None:
        element.text = str(value).lower() if isinstance(value, bool) else str(value)


def _error(fmt: str, status: int, description: str) -> Response:
    return _render(fmt, [{"code": status, "description": description}], "errors", "error", status)


Route = TypeVar("Route", bound=Callable[..., Awaitable[Response]])


def spec_errors(route: Route) -> Route:
    """Every Open311 route: `.json` or `.xml` only, and any Open311Error answered in the spec's
    shape and in the format asked for (JSON when the format itself is wrong)."""

    @functools.wraps(route)
    async def answer(*args: Any, **kwargs: Any) -> Response:
        fmt = kwargs.get("fmt", "json")
        try:
            if fmt not in ("json", "xml"):
                raise Open311Error(404, f"unknown format {fmt!r}: use .json or .xml")
            return await route(*args, **kwargs)
        except Open311Error as e:
            return _error(fmt if fmt in ("json", "xml") else "json", e.status, e.description)

    return answer  # type: ignore[return-value]


@lru_cache(maxsize=4)
def _definitions(config_dir: Path) -> dict[str, list[dict[str, Any]]]:
    path = config_dir / "service_definitions.yaml"
    loaded = yaml.safe_load(path.read_text(encoding="utf-8")) if path.exists() else None
    return loaded or {}


def _service(category: Category, definitions: dict[str, Any]) -> dict[str, Any]:
    return {
        "service_code": category.code,
        "service_name": category.name,
        "description": category.name,
        "metadata": category.code in definitions,
        "type": "realtime",
        "keywords": ",".join([category.code.split(".")[-1], *category.kinds]),
        "group": category.code.split(".")[0],
    }


# ---- services --------------------------------------------------------------------------------


@router.get("/services.{fmt}")
@spec_errors
async def services(fmt: str, request: Request, settings: SettingsDep) -> Response:
    async with _sessions(request)() as session:
        categories = (await session.scalars(select(Category).order_by(Category.code))).all()
    definitions = _definitions(settings.config_dir)
    body = [_service(c, definitions) for c in categories if c.government_matter]
    return _render(fmt, body, "services", "service")


@router.get("/services/{code}.{fmt}")
@spec_errors
async def service_definition(
    code: str, fmt: str, request: Request, settings: SettingsDep
) -> Response:
    async with _sessions(request)() as session:
        category = await session.get(Category, code)
    if category is None:
        raise Open311Error(404, f"no service {code!r}")
    attributes = [
        {
            "variable": True,
            "code": a["code"],
            "datatype": a["datatype"],
            "required": bool(a.get("required")),
            "datatype_description": None,
            "order": a.get("order", i + 1),
            "description": a["description"],
            "values": a.get("values", []),
        }
        for i, a in enumerate(_definitions(settings.config_dir).get(code, []))
    ]
    body = {"service_code": code, "attributes": attributes}
    return _render(fmt, body, "service_definition", "service_definition")


# ---- requests --------------------------------------------------------------------------------


@router.post("/requests.{fmt}")
@spec_errors
async def post_request(
    fmt: str, request: Request, temporal: TemporalDep, settings: SettingsDep
) -> Response:
    """Form-encoded, as the spec says; answers `service_request_id` (routing done) at once."""
    form = await request.form()
    field = {k: str(v) for k, v in form.items()}
    if field.get("api_key") not in settings.open311_api_keys:
        raise Open311Error(403, "a valid api_key is required to post service requests")
    try:
        rate_limited(request, f"open311:{field['api_key']}")
    except TooManyRequests as limited:
        raise Open311Error(429, limited.message) from None
    body = await _case_from_form(request, field)
    # An Open311 client sees no case through intake: a taken reference is only a 409.
    client = Principal(subject="open311", role=Role.resident)
    case = (await file_case(_sessions(request), temporal, settings, body, client)).case
    notice = f"预计答复时限 {_expected(case.deadlines) or '待派单'}"
    body_out = [{"service_request_id": case.id, "service_notice": notice, "account_id": None}]
    return _render(fmt, body_out, "service_requests", "request", 201)


async def _case_from_form(request: Request, field: dict[str, str]) -> CaseCreate:
    code = field.get("service_code")
    if not code:
        raise Open311Error(400, "service_code is required")
    async with _sessions(request)() as session:
        category = await session.get(Category, code)
    if category is None:
        raise Open311Error(404, f"no service {code!r}")
    lat, lon = field.get("lat"), field.get("long")
    address = field.get("address_string") or field.get("address_id")
    if not address and not (lat and lon):
        raise Open311Error(400, "a location is required: lat and long, or address_string")
    name = " ".join(p for p in (field.get("first_name"), field.get("last_name")) if p)
    attributes = {k[10:-1]: v for k, v in field.items() if k.startswith("attribute[")}
    description = field.get("description") or category.name
    if attributes:
        description += "\n" + "\n".join(f"{k}: {v}" for k, v in attributes.items())
    try:
        return CaseCreate.model_validate(
            {
                "channel": Channel.open311.value,
                "category": code,
                "title": category.name,
                "description": description[:2000],
                "location": {
                    "address": address or f"{lat},{lon}",
                    "lat": float(lat) if lat else None,
                    "lon": float(lon) if lon else None,
                },
                "reporter": {
                    "name": name or field.get("email") or "Open311",
                    "phone": field.get("phone") or "",
                },
                "photo_url": field.get("media_url") or None,
            }
        )
    except (ValidationError, ValueError) as invalid:
        raise Open311Error(400, _explain(invalid)) from None


def _explain(error: Exception) -> str:
    if isinstance(error, ValidationError):
        first = error.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        if where == "reporter.phone":
            return "phone is required by this jurisdiction (digits, 5 to 20)"
        return f"{where}: {first['msg']}"
    return str(error)


@router.get("/tokens/{token}.{fmt}")
@spec_errors
async def token(token: str, fmt: str, request: Request) -> Response:
    """Requests are created at once, so a token is the service_request_id itself."""
    async with _sessions(request)() as session:
        case = await session.get(Case, token)
    if case is None:
        raise Open311Error(404, f"no token {token!r}")
    return _render(
        fmt, [{"service_request_id": case.id, "token": token}], "service_requests", "request"
    )


@router.get("/requests.{fmt}")
@spec_errors
async def get_requests(fmt: str, request: Request) -> Response:
    params = request.query_params
    query = select(Case).order_by(Case.number.desc()).limit(MAX_REQUESTS)
    ids = params.get("service_request_id")
    if ids:  # overrides every other parameter, as the spec says
        query = query.where(Case.id.in_([i.strip() for i in ids.split(",") if i.strip()]))
    else:
        end = _when(params.get("end_date")) or datetime.now(UTC)
        start = _when(params.get("start_date")) or end - MAX_RANGE
        if end - start > MAX_RANGE:
            raise Open311Error(400, "start_date to end_date may not span more than 90 days")
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
        names = await _names(session)
    body = [_request_out(r, names) for r in rows]
    return _render(fmt, body, "service_requests", "request")


@router.get("/requests/{request_id}.{fmt}")
@spec_errors
async def get_request(request_id: str, fmt: str, request: Request) -> Response:
    async with _sessions(request)() as session:
        case = await session.get(Case, request_id)
        if case is None:
            raise Open311Error(404, f"no service request {request_id!r}")
        body = [_request_out(case, await _names(session))]
    return _render(fmt, body, "service_requests", "request")


async def _names(session: AsyncSession) -> dict[str, str]:
    """Unit and category names by code, read once per request rather than once per row."""
    rows = await session.execute(
        select(Unit.code, Unit.name).union_all(select(Category.code, Category.name))
    )
    return {code: name for code, name in rows}


def _request_out(case: Case, names: dict[str, str]) -> dict[str, Any]:
    closed = case.status == "closed"
    return {
        "service_request_id": case.id,
        "status": "closed" if closed else "open",
        "status_notes": case.outcome if closed else case.status,
        "service_name": names.get(case.category, case.category),
        "service_code": case.category,
        "description": case.description,
        "agency_responsible": names.get(case.unit) if case.unit else None,
        "service_notice": None,
        "requested_datetime": _w3(case.received_at),
        "updated_datetime": _w3(case.updated_at),
        "expected_datetime": _expected([Deadline.model_validate(d) for d in case.deadlines]),
        "address": case.address,
        "address_id": None,
        "zipcode": None,
        "lat": case.lat,
        "long": case.lon,
        "media_url": case.photo_url,
    }


def _expected(deadlines: list[Deadline]) -> str | None:
    """expected_datetime: our reply deadline, while it is still ahead."""
    reply = next((d for d in deadlines if d.kind is DeadlineKind.reply), None)
    return _w3(reply.due_at) if reply and reply.met_at is None else None


def _w3(moment: datetime | None) -> str | None:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ") if moment else None


def _when(text: str | None) -> datetime | None:
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise Open311Error(400, f"not a w3 datetime: {text!r}") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _sessions(request: Request) -> async_sessionmaker[AsyncSession]:
    sessions: async_sessionmaker[AsyncSession] = request.app.state.sessions
    return sessions

"""Open311's wire formats: JSON or XML for every answer, errors in the spec's own shape
(`[{"code", "description"}]`), W3C datetimes both ways."""

from __future__ import annotations

import functools
import json
from collections.abc import Awaitable, Callable, Iterable
from datetime import UTC, datetime
from typing import Any, TypeVar
from xml.etree import ElementTree

from fastapi import Response

from api.errors import GridcaseError, retry_after

# Datetimes a client may ask about: anything else is a typo or a probe, answered 400.
EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
LATEST = datetime(2100, 1, 1, tzinfo=UTC)


class Open311Error(Exception):
    def __init__(self, status: int, description: str, retry_after: int | None = None) -> None:
        super().__init__(description)
        self.status, self.description, self.retry_after = status, description, retry_after


def render(fmt: str, body: Any, root: str, item: str, status: int = 200) -> Response:
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
    """A dict's keys become elements; a list under `things` becomes `<things><thing>…`."""
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


Route = TypeVar("Route", bound=Callable[..., Awaitable[Response]])


def spec_errors(route: Route) -> Route:
    """Every Open311 route: `.json` or `.xml` only, and every refusal (ours or gridcase's, such
    as an unknown place or Temporal being down) answered in the spec's shape and in the format
    asked for (JSON when the format itself is wrong), with Retry-After on 429 and 503."""

    @functools.wraps(route)
    async def answer(*args: Any, **kwargs: Any) -> Response:
        fmt = kwargs.get("fmt", "json")
        try:
            if fmt not in ("json", "xml"):
                raise Open311Error(404, f"unknown format {fmt[:16]!r}: use .json or .xml")
            return await route(*args, **kwargs)
        except GridcaseError as refused:
            error = Open311Error(refused.status_code, refused.message, retry_after(refused))
        except Open311Error as refused:
            error = refused
        shown = fmt if fmt in ("json", "xml") else "json"
        body = [{"code": error.status, "description": error.description}]
        response = render(shown, body, "errors", "error", error.status)
        if error.retry_after is not None:
            response.headers["Retry-After"] = str(error.retry_after)
        return response

    return answer  # type: ignore[return-value]


def refuse_control_characters(values: Iterable[tuple[str, str]]) -> None:
    """A NUL or another control character in a form value is a probe (and one PostgreSQL
    refuses to store): a 400 here, never a 500. Paths and queries are refused by api.edge."""
    for name, value in values:
        if any(ord(c) < 32 and c not in "\t\n\r" for c in name + value):
            raise Open311Error(400, f"{name[:40]!r}: control characters are not allowed")


def w3(moment: datetime | None) -> str | None:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ") if moment else None


def when(name: str, text: str | None) -> datetime | None:
    """A W3C datetime parameter (UTC when it names no zone), within the years gridcase serves."""
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise Open311Error(400, f"{name} is not a W3C datetime: {text[:40]!r}") from None
    moment = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    if not EARLIEST <= moment < LATEST:
        raise Open311Error(400, f"{name} must lie between 2000 and 2100")
    return moment

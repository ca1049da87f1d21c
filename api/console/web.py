"""What every console page shares: the signed-in visitor from the session cookie, the API as that
visitor, the templates, CSRF checks and errors in the domain's words."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.templating import Jinja2Templates
from starlette.responses import Response

from api.auth import NotAuthenticated, principal_of
from api.console import session, words
from api.console.assets import asset_url
from api.console.client import Api, ApiError, api_as
from api.deps import SettingsDep
from domain.permissions import Principal, may

templates = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))
templates.env.globals.update(asset=asset_url, local=words.local)


class SignInRequired(Exception):
    """No session, or its token no longer verifies: back to the sign-in page."""


@dataclass(frozen=True)
class Visitor:
    token: str
    principal: Principal

    @property
    def csrf(self) -> str:
        return session.csrf_for(self.token)

    def may(self, action: str) -> bool:
        return may(self.principal, action)


async def visitor(request: Request, settings: SettingsDep) -> Visitor:
    token = session.session_token(request)
    if token is None:
        raise SignInRequired
    try:
        return Visitor(token, principal_of(settings, token))
    except NotAuthenticated:
        raise SignInRequired from None


Signed = Annotated[Visitor, Depends(visitor)]


async def _api(request: Request, who: Signed) -> AsyncIterator[Api]:
    async for api in api_as(request, who.token):
        yield api


ApiDep = Annotated[Api, Depends(_api)]


def render(
    request: Request, name: str, who: Visitor | None, status: int = 200, **context: Any
) -> Response:
    """A page in the visitor's language (`?lang=` switches it and is remembered)."""
    said = words.chosen(request)
    page = templates.TemplateResponse(
        request, name, {"who": who, "words": said, "t": said.UI, **context}, status_code=status
    )
    if request.query_params.get("lang") == said.code:
        page.set_cookie(
            words.LANG_COOKIE, said.code, max_age=365 * 24 * 3600, samesite="lax", path="/"
        )
    return page


def error_text(request: Request, error: ApiError) -> str:
    """The API's error in the visitor's words, with the API's own message for the detail."""
    return words.chosen(request).error(error.code, error.message)


async def csrf_checked(request: Request, who: Visitor) -> dict[str, str]:
    """The submitted form, if it carries the session's CSRF token."""
    form = {k: str(v) for k, v in (await request.form()).items()}
    if not session.csrf_ok(who.token, form.get(session.CSRF_FIELD)):
        raise ApiError(403, "invalid_csrf", "the form's CSRF token does not match the session")
    return form

"""Authentication and authorisation for the API: the bearer token names a principal; the
permission table (domain/permissions.py) says what it may do; scope hides foreign cases."""

from __future__ import annotations

import functools
import time
from collections import defaultdict
from collections.abc import Callable, Coroutine
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from api.deps import SettingsDep
from api.errors import GridcaseError
from core.auth import InvalidToken, verify
from core.config import Settings
from domain.permissions import Principal, may


class NotAuthenticated(GridcaseError):
    status_code = 401
    code = "not_authenticated"
    headers = {"WWW-Authenticate": "Bearer"}  # noqa: RUF012 (a constant of the class)


class Forbidden(GridcaseError):
    status_code = 403
    code = "forbidden"


class TooManyRequests(GridcaseError):
    status_code = 429
    code = "rate_limited"


# OpenAPI's bearer scheme: /docs shows an Authorize button and sends the token it is given.
bearer_scheme = HTTPBearer(
    auto_error=False, description="A JWT from `gridcase token issue` or your identity provider"
)


async def current_principal(
    settings: SettingsDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer_scheme)] = None,
) -> Principal:
    if credentials is None or not credentials.credentials:
        raise NotAuthenticated("a bearer token is required")
    return principal_of(settings, credentials.credentials)


def principal_of(settings: Settings, token: str) -> Principal:
    """The principal a token names (from the Authorization header or the console's cookie)."""
    try:
        return verify(settings, token)
    except InvalidToken as bad:
        raise NotAuthenticated(f"invalid token: {bad}") from None


CurrentPrincipal = Annotated[Principal, Depends(current_principal)]


@functools.cache
def allowed(action: str) -> Callable[..., Coroutine[Any, Any, Principal]]:
    """A dependency: the caller, if its role may take `action` at all (else 403). One function
    per action, so FastAPI resolves it once per request however many times it is declared."""

    async def check(principal: CurrentPrincipal) -> Principal:
        if not may(principal, action):
            raise Forbidden(
                f"a {principal.role.value} may not {action}",
                {"role": principal.role.value, "action": action},
            )
        return principal

    return check


class RateLimiter:
    """A per-client sliding window for the public intake (residents' app, Open311). In memory,
    per API process: behind several replicas the limit is per replica."""

    def __init__(self, per_minute: int) -> None:
        self.per_minute = per_minute
        self._hits: dict[str, list[float]] = defaultdict(list)

    def hit(self, client: str) -> None:
        now = time.monotonic()
        recent = [t for t in self._hits[client] if now - t < 60.0]
        if len(recent) >= self.per_minute:
            retry = int(60.0 - (now - recent[0])) + 1
            self._hits[client] = recent
            raise TooManyRequests(
                f"more than {self.per_minute} requests a minute",
                {"retry_after_seconds": retry},
            )
        recent.append(now)
        self._hits[client] = recent


def rate_limited(request: Request, client: str) -> None:
    limiter: RateLimiter = request.app.state.intake_limiter
    limiter.hit(client)

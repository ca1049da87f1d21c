"""The console's session: an HttpOnly, SameSite=Strict cookie carrying the bearer token."""

from __future__ import annotations

from fastapi import Request

SESSION_COOKIE = "gridcase_session"


def session_token(request: Request) -> str | None:
    return request.cookies.get(SESSION_COOKIE) or None

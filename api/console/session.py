"""The console's session: an HttpOnly, SameSite=Strict cookie carrying the bearer token, and a CSRF
token for its forms derived from it (a page of another site can read neither)."""

from __future__ import annotations

import hashlib
import hmac
import secrets

from fastapi import Request, Response

SESSION_COOKIE = "gridcase_session"
# Before sign-in there is no session to derive from: a random value in its own cookie, echoed by
# the sign-in form (double submit).
SIGNIN_COOKIE = "gridcase_signin"
CSRF_FIELD = "csrf"


def session_token(request: Request) -> str | None:
    return request.cookies.get(SESSION_COOKIE) or None


def csrf_for(token: str) -> str:
    return hashlib.sha256(b"gridcase-console-csrf:" + token.encode()).hexdigest()[:40]


def csrf_ok(expected_from: str, given: str | None) -> bool:
    return given is not None and hmac.compare_digest(csrf_for(expected_from), given)


def new_signin_nonce() -> str:
    return secrets.token_urlsafe(24)


def _secure(request: Request) -> bool:
    return request.url.scheme == "https"


def set_cookie(request: Request, response: Response, name: str, value: str, max_age: int) -> None:
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        httponly=True,
        samesite="strict",
        secure=_secure(request),
        path="/",
    )


def start(request: Request, response: Response, token: str) -> None:
    set_cookie(request, response, SESSION_COOKIE, token, max_age=12 * 3600)
    response.delete_cookie(SIGNIN_COOKIE, path="/")


def end(response: Response) -> None:
    response.delete_cookie(SESSION_COOKIE, path="/")

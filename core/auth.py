"""Bearer tokens: signed JWTs. A city plugs in its identity provider by configuring its issuer,
audience and public key; `gridcase token issue` signs local ones with a shared secret."""

from __future__ import annotations

import json
import secrets
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
from pydantic import ValidationError

from core.config import Settings, kept_secret
from domain.permissions import Principal


class InvalidToken(Exception):
    pass


def _secret(settings: Settings) -> str:
    """GRIDCASE_JWT_SECRET, or one made once (0600) in the embedded stack's data folder."""
    if settings.jwt_secret:
        return settings.jwt_secret
    return kept_secret(settings.data_dir / "jwt-secret", _new_secret)


def _new_secret() -> str:
    return secrets.token_urlsafe(48)


def issue(settings: Settings, principal: Principal, lifetime: timedelta) -> str:
    now = datetime.now(UTC)
    claims: dict[str, Any] = {
        "iss": settings.jwt_issuer,
        "aud": settings.jwt_audience,
        "sub": principal.subject,
        "iat": now,
        "exp": now + lifetime,
        "role": principal.role.value,
        "unit": principal.unit,
        "grids": list(principal.grids),
        "community": principal.community,
        "case": principal.case_id,
    }
    return jwt.encode({k: v for k, v in claims.items() if v not in (None, [])}, _secret(settings))


def verify(settings: Settings, token: str) -> Principal:
    """The principal a valid token names; InvalidToken for anything else."""
    key = settings.jwt_public_key or _secret(settings)
    algorithms = ["RS256", "ES256"] if settings.jwt_public_key else ["HS256"]
    try:
        claims = jwt.decode(
            token,
            key,
            algorithms=algorithms,
            audience=settings.jwt_audience,
            issuer=settings.jwt_issuer,
            options={"require": ["exp", "sub"]},
        )
    except jwt.PyJWTError as bad:
        raise InvalidToken(str(bad)) from None
    try:
        # Signed is not well-formed: every claim is validated (a `grids` of 5 is no token).
        return Principal.model_validate_json(
            json.dumps(
                {
                    "subject": claims["sub"],
                    "role": claims.get("role"),
                    "unit": claims.get("unit"),
                    "grids": claims.get("grids", ()),
                    "community": claims.get("community"),
                    "case_id": claims.get("case"),
                }
            ),
            strict=True,  # JSON's own types: no number passes for a string, no string for a list
        )
    except (ValidationError, KeyError) as bad:
        raise InvalidToken(f"a malformed claim: {_first(bad)}") from None


def _first(error: Exception) -> str:
    if isinstance(error, ValidationError):
        first = error.errors()[0]
        return f"{'.'.join(str(p) for p in first['loc'])}: {first['msg']}"
    return str(error)

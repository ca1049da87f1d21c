"""Bearer tokens: signed JWTs. A city plugs in its identity provider by configuring its issuer,
audience and public key; `gridcase token issue` signs local ones with a shared secret."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt

from core.config import Settings, kept_secret
from domain.permissions import Principal, Role


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
        return Principal(
            subject=claims["sub"],
            role=Role(claims.get("role", "")),
            unit=claims.get("unit"),
            grids=tuple(claims.get("grids", ())),
            community=claims.get("community"),
            case_id=claims.get("case"),
        )
    except (jwt.PyJWTError, ValueError, KeyError) as bad:
        raise InvalidToken(str(bad)) from None

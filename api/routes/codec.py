"""The codec server (Temporal's remote codec protocol): lets an authorised operator read the
encrypted payloads in the Temporal UI or CLI. Payloads as protobuf JSON in, the same out."""

from __future__ import annotations

from typing import Annotated

from cryptography.exceptions import InvalidTag
from fastapi import APIRouter, Depends, Request, Response
from fastapi.security import HTTPAuthorizationCredentials
from google.protobuf import json_format
from temporalio.api.common.v1 import Payloads

from api.auth import NotAuthenticated, allowed, bearer_scheme, principal_of
from api.console.session import session_token
from api.deps import SettingsDep
from api.errors import GridcaseError
from core.codec import EncryptionCodec
from core.config import Settings


async def _authorise(
    request: Request,
    settings: SettingsDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer_scheme)] = None,
) -> None:
    """An operator's (or admin's) token, unless the laptop stack opened the codec server to its
    dev UI, which cannot send one (`codec_open`). The token comes in the Authorization header
    (the CLI, a UI passing its access token) or in the console's session cookie, which a
    Temporal UI on the same host sends when its codec includes credentials."""
    if settings.codec_open:
        return
    token = credentials.credentials if credentials else session_token(request)
    if not token:
        raise NotAuthenticated("a bearer token or a console session is required")
    await allowed("codec")(principal_of(settings, token))


def allowed_origins(settings: Settings) -> list[str]:
    """The Temporal UI's origins, which call the codec server from the browser: the configured
    ones, or the laptop UI at both names a browser reaches it by (the banner prints 127.0.0.1)."""
    if settings.ui_origins:
        return settings.ui_origins
    port = settings.temporal_ui_port
    hosts = dict.fromkeys([settings.temporal_host, "127.0.0.1", "localhost"])
    return [f"http://{host}:{port}" for host in hosts]


router = APIRouter(prefix="/codec", tags=["codec"], dependencies=[Depends(_authorise)])


class InvalidPayloads(GridcaseError):
    status_code = 422
    code = "invalid_payloads"


async def _apply(request: Request, decode: bool) -> Response:
    codec: EncryptionCodec = request.app.state.codec
    try:
        payloads = json_format.Parse(await request.body(), Payloads()).payloads
        done = await (codec.decode(payloads) if decode else codec.encode(payloads))
    except (json_format.ParseError, ValueError, InvalidTag) as bad:
        what = "decode" if decode else "encode"
        raise InvalidPayloads(f"cannot {what} these payloads: {bad}") from None
    body = json_format.MessageToJson(Payloads(payloads=done))
    return Response(body, media_type="application/json")


@router.post("/encode")
async def encode(request: Request) -> Response:
    return await _apply(request, decode=False)


@router.post("/decode")
async def decode(request: Request) -> Response:
    return await _apply(request, decode=True)

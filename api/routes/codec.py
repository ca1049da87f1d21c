"""The codec server (Temporal's remote codec protocol): lets an authorised operator read the
encrypted payloads in the Temporal UI or CLI. Payloads as protobuf JSON in, the same out."""

from __future__ import annotations

from typing import Annotated

from cryptography.exceptions import InvalidTag
from fastapi import APIRouter, Header, Request, Response
from google.protobuf import json_format
from temporalio.api.common.v1 import Payloads

from api.auth import Forbidden, NotAuthenticated
from api.deps import SettingsDep
from api.errors import GridcaseError
from core.auth import InvalidToken, verify
from core.codec import EncryptionCodec
from core.config import Settings
from domain.permissions import may

router = APIRouter(prefix="/codec", tags=["codec"])


def _authorise(settings: Settings, authorization: str | None) -> None:
    if settings.codec_open:
        return
    scheme, _, token = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise NotAuthenticated("the codec server wants an operator's bearer token")
    try:
        principal = verify(settings, token)
    except InvalidToken as bad:
        raise NotAuthenticated(f"invalid token: {bad}") from None
    if not may(principal, "codec"):
        raise Forbidden(f"a {principal.role.value} may not read payloads", {"action": "codec"})


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
async def encode(
    request: Request,
    settings: SettingsDep,
    authorization: Annotated[str | None, Header()] = None,
) -> Response:
    _authorise(settings, authorization)
    return await _apply(request, decode=False)


@router.post("/decode")
async def decode(
    request: Request,
    settings: SettingsDep,
    authorization: Annotated[str | None, Header()] = None,
) -> Response:
    _authorise(settings, authorization)
    return await _apply(request, decode=True)

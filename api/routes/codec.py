"""The codec server (Temporal's remote codec protocol): lets an authorised operator read the
encrypted payloads in the Temporal UI or CLI. Payloads as protobuf JSON in, the same out."""

from __future__ import annotations

from typing import Annotated

from cryptography.exceptions import InvalidTag
from fastapi import APIRouter, Depends, Header, Request, Response
from google.protobuf import json_format
from temporalio.api.common.v1 import Payloads

from api.auth import allowed, current_principal
from api.deps import SettingsDep
from api.errors import GridcaseError
from core.codec import EncryptionCodec


async def _authorise(
    settings: SettingsDep,
    authorization: Annotated[str | None, Header()] = None,
) -> None:
    """An operator's (or admin's) token, unless the laptop stack opened the codec server to its
    dev UI, which cannot send one (`codec_open`)."""
    if not settings.codec_open:
        await allowed("codec")(await current_principal(settings, authorization))


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

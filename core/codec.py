"""Payload encryption: residents' names, phone numbers and complaints never reach Temporal's
history in plaintext. AES-256-GCM; the key id travels in each payload's metadata, so keys can
be rotated (new payloads use the current key, old ones still decode with theirs)."""

from __future__ import annotations

import base64
import json
import os
from collections.abc import Iterable, Mapping
from pathlib import Path

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from temporalio.api.common.v1 import Payload
from temporalio.converter import PayloadCodec

from core.config import kept_secret

ENCODING = b"binary/encrypted"
# What an unencrypted payload decodes to: no converter reads this encoding, so an Update sent
# around the API (a CLI, a UI's button) is rejected before its handler runs, and its bytes are
# not read at all.
REFUSED = b"binary/refused-unencrypted"
KEY_ID = "encryption-key-id"
NONCE_BYTES = 12


class EncryptionCodec(PayloadCodec):
    """`plaintext=True` reads payloads written before encryption was on: only for replaying
    recorded histories, never for a running system."""

    def __init__(self, keys: Mapping[str, bytes], current: str, *, plaintext: bool = False) -> None:
        if current not in keys:
            raise ValueError(f"the current key {current!r} is not among the keys")
        for key_id, key in keys.items():
            if len(key) != 32:
                raise ValueError(f"key {key_id!r} must be 32 bytes (AES-256)")
        self._ciphers = {key_id: AESGCM(key) for key_id, key in keys.items()}
        self._current = current
        self._plaintext = plaintext

    async def encode(self, payloads: Iterable[Payload]) -> list[Payload]:
        cipher = self._ciphers[self._current]
        encoded = []
        for payload in payloads:
            nonce = os.urandom(NONCE_BYTES)
            # The key id is authenticated too: a payload cannot be passed off under another key.
            sealed = cipher.encrypt(nonce, payload.SerializeToString(), self._current.encode())
            encoded.append(
                Payload(
                    metadata={"encoding": ENCODING, KEY_ID: self._current.encode()},
                    data=nonce + sealed,
                )
            )
        return encoded

    async def decode(self, payloads: Iterable[Payload]) -> list[Payload]:
        decoded = []
        for payload in payloads:
            if payload.metadata.get("encoding") != ENCODING:
                decoded.append(
                    payload if self._plaintext else Payload(metadata={"encoding": REFUSED})
                )
                continue
            key_id = payload.metadata.get(KEY_ID, b"").decode()
            cipher = self._ciphers.get(key_id)
            if cipher is None:
                raise ValueError(f"no key {key_id!r} to decrypt this payload")
            nonce, sealed = payload.data[:NONCE_BYTES], payload.data[NONCE_BYTES:]
            decoded.append(Payload.FromString(cipher.decrypt(nonce, sealed, key_id.encode())))
        return decoded


def parse_keys(encoded: Mapping[str, str]) -> dict[str, bytes]:
    return {key_id: base64.b64decode(key) for key_id, key in encoded.items()}


def local_keys(path: Path) -> dict[str, str]:
    """The embedded stack's keys (deployments pass GRIDCASE_CODEC_KEYS instead)."""
    keys: dict[str, str] = json.loads(kept_secret(path, _new_key_file))
    return keys


def _new_key_file() -> str:
    return json.dumps({"local-1": base64.b64encode(AESGCM.generate_key(bit_length=256)).decode()})

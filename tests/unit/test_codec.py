"""The payload codec: round trip, key rotation, and refusing what it cannot vouch for."""

from __future__ import annotations

import pytest
from cryptography.exceptions import InvalidTag
from temporalio.api.common.v1 import Payload
from temporalio.api.failure.v1 import Failure
from temporalio.exceptions import ApplicationError

from core.codec import KEY_ID, REFUSED, EncryptionCodec
from core.config import Settings
from core.temporal import data_converter

OLD, NEW = b"o" * 32, b"n" * 32
PLAIN = Payload(metadata={"encoding": b"json/plain"}, data=b'{"phone": "13900000002"}')


async def test_a_payload_round_trips_and_is_unreadable_in_between() -> None:
    codec = EncryptionCodec({"k1": OLD}, "k1")
    [sealed] = await codec.encode([PLAIN])
    assert b"13900000002" not in sealed.SerializeToString()
    assert sealed.metadata[KEY_ID] == b"k1"
    assert await codec.decode([sealed]) == [PLAIN]


async def test_after_rotation_old_payloads_still_decode_and_new_ones_use_the_new_key() -> None:
    [old] = await EncryptionCodec({"k1": OLD}, "k1").encode([PLAIN])
    rotated = EncryptionCodec({"k1": OLD, "k2": NEW}, "k2")
    assert await rotated.decode([old]) == [PLAIN]
    [new] = await rotated.encode([PLAIN])
    assert new.metadata[KEY_ID] == b"k2"


async def test_unknown_keys_and_tampering_are_refused() -> None:
    [sealed] = await EncryptionCodec({"k1": OLD}, "k1").encode([PLAIN])
    with pytest.raises(ValueError, match="no key"):
        await EncryptionCodec({"k2": NEW}, "k2").decode([sealed])
    relabelled = Payload(metadata={**sealed.metadata, KEY_ID: b"k2"}, data=sealed.data)
    with pytest.raises(InvalidTag):  # the key id is authenticated
        await EncryptionCodec({"k1": OLD, "k2": OLD}, "k1").decode([relabelled])


async def test_an_unencrypted_payload_is_refused_not_read() -> None:
    """What a CLI or a UI button sends around the API (no codec) never reaches a handler."""
    [refused] = await EncryptionCodec({"k1": OLD}, "k1").decode([PLAIN])
    assert refused.metadata["encoding"] == REFUSED and refused.data == b""
    converter = data_converter(Settings())
    with pytest.raises(KeyError, match="refused-unencrypted"):
        await converter.decode([PLAIN], [dict])
    [sealed] = await converter.encode([{"phone": "13900000002"}])
    assert await converter.decode([sealed], [dict]) == [{"phone": "13900000002"}]


async def test_a_failure_s_message_travels_encrypted() -> None:
    """A database error's text can name a resident: history shows only "Encoded failure"."""
    converter = data_converter(Settings())
    failure = Failure()
    await converter.encode_failure(ApplicationError("李先生 13900000002 refused"), failure)
    assert failure.message == "Encoded failure"
    assert b"13900000002" not in failure.SerializeToString()
    decoded = await converter.decode_failure(failure)
    assert "13900000002" in str(decoded)  # the API and the codec server still read it


def test_keys_must_be_aes_256_and_the_current_one_known() -> None:
    with pytest.raises(ValueError, match="32 bytes"):
        EncryptionCodec({"k1": b"short"}, "k1")
    with pytest.raises(ValueError, match="not among"):
        EncryptionCodec({"k1": OLD}, "k9")

"""The SMS gateway's signature against Aliyun's published example, and the one-line errors a
worker starts with when the chosen gateway lacks a setting."""

from __future__ import annotations

import pytest

from core.config import Settings, StartupError
from worker.gateways import (
    AliyunSmsGateway,
    LogGateway,
    WebhookGateway,
    gateway_from,
    percent_encode,
    rpc_signature,
)

# The example in Aliyun's "signature mechanism" page for RPC APIs (secret "testsecret").
DOCUMENTED = {
    "AccessKeyId": "testid",
    "Action": "DescribeRegions",
    "Format": "XML",
    "SignatureMethod": "HMAC-SHA1",
    "SignatureNonce": "3ee8c1b8-83d3-44af-a94f-4e0ad82fd6cf",
    "SignatureVersion": "1.0",
    "Timestamp": "2016-02-23T12:46:24Z",
    "Version": "2014-05-26",
}


def test_the_signature_matches_the_documented_example() -> None:
    assert rpc_signature("GET", DOCUMENTED, "testsecret") == "OLeaidS1JvxuMvnyHOwuJ+uX5qY="


def test_encoding_keeps_only_the_unreserved_characters() -> None:
    assert percent_encode("a b*c~d/e+f") == "a%20b%2Ac~d%2Fe%2Bf"
    assert percent_encode("仓口") == "%E4%BB%93%E5%8F%A3"


async def test_the_settings_choose_the_gateway_and_name_what_is_missing() -> None:
    assert isinstance(gateway_from(Settings()), LogGateway)
    webhook = gateway_from(Settings(notify_webhook_url="http://127.0.0.1:9/notify"))
    assert isinstance(webhook, WebhookGateway)
    await webhook.aclose()
    with pytest.raises(StartupError, match="GRIDCASE_NOTIFY_WEBHOOK_URL"):
        gateway_from(Settings(notify_gateway="webhook"))
    with pytest.raises(
        StartupError, match="GRIDCASE_SMS_ACCESS_KEY_SECRET, GRIDCASE_SMS_SIGN_NAME"
    ):
        gateway_from(Settings(notify_gateway="aliyun_sms", sms_access_key_id="LTAI"))
    sms = gateway_from(
        Settings(
            notify_gateway="aliyun_sms",
            sms_access_key_id="LTAI",
            sms_access_key_secret="s",
            sms_sign_name="仓口街道",
        )
    )
    assert isinstance(sms, AliyunSmsGateway)
    await sms.aclose()

"""The gateways the outbox sends through, chosen by `GRIDCASE_NOTIFY_GATEWAY`: the worker's log
(the default), a generic webhook, or Aliyun's SMS API (Dysms `SendSms`). Each takes one
`Message` and either returns (sent), raises `Undeliverable` (never send it again: a dead letter) or
raises `Deferred` / an HTTP or network error (try again after a backoff)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol
from urllib.parse import quote

import httpx

from core.config import Settings, StartupError

log = logging.getLogger("gridcase.outbox")


@dataclass(frozen=True)
class Message:
    """One notification as a gateway sends it: a template (the notification's kind, and the id
    the gateway knows it by), its parameters, and the contact looked up at send time."""

    id: str
    case_id: str
    recipient: str
    kind: str
    params: dict[str, str]
    phone: str | None = None
    email: str | None = None


class Undeliverable(Exception):
    """The gateway refused the notification for good: sending it again cannot help."""


class Deferred(Exception):
    """The gateway cannot take it now (throttled, busy): try again after a backoff."""


class Gateway(Protocol):
    async def __call__(self, message: Message) -> None: ...

    async def aclose(self) -> None: ...


class LogGateway:
    """No gateway configured: the worker's log is the channel (no contact in it)."""

    async def __call__(self, message: Message) -> None:
        log.info("notify %s: %s %s", message.recipient, message.kind, message.params)

    async def aclose(self) -> None:
        pass


# A 4xx is the gateway's final word, except a timeout or a rate limit.
_TRANSIENT_4XX = {408, 429}


class WebhookGateway:
    """POSTs each notification as JSON to a city's messaging platform, with the notification id
    as Idempotency-Key (the platform drops a repeat)."""

    def __init__(self, url: str, templates: dict[str, str], timeout: float = 10.0) -> None:
        self._url, self._templates = url, templates
        self._http = httpx.AsyncClient(timeout=timeout)

    async def __call__(self, message: Message) -> None:
        response = await self._http.post(
            self._url,
            json={
                "id": message.id,
                "case_id": message.case_id,
                "recipient": message.recipient,
                "kind": message.kind,
                "template_id": self._templates.get(message.kind),
                "params": message.params,
                "phone": message.phone,
                "email": message.email,
            },
            headers={"Idempotency-Key": message.id},
        )
        if 400 <= response.status_code < 500 and response.status_code not in _TRANSIENT_4XX:
            raise Undeliverable(f"{response.status_code} {response.text[:200]}")
        response.raise_for_status()

    async def aclose(self) -> None:
        await self._http.aclose()


def percent_encode(text: str) -> str:
    """Aliyun's encoding (RFC 3986): only A-Z a-z 0-9 - _ . ~ stay as they are."""
    return quote(text, safe="~")


def rpc_signature(method: str, params: dict[str, str], secret: str) -> str:
    """Aliyun's RPC signature, version 1.0: HMAC-SHA1 (key: the secret and "&") over the method,
    the encoded "/" and the encoded canonicalised query (parameters sorted by name)."""
    query = "&".join(f"{percent_encode(k)}={percent_encode(v)}" for k, v in sorted(params.items()))
    to_sign = f"{method}&{percent_encode('/')}&{percent_encode(query)}"
    digest = hmac.new(f"{secret}&".encode(), to_sign.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


# Answers after which a later attempt can succeed: flow control (per number, per minute, hour
# and day) and the service's own failures. Every other code is final (a wrong number, an
# unapproved template or sign name, a bad signature or key): a dead letter.
_LATER = ("Throttling", "isv.BUSINESS_LIMIT_CONTROL", "isp.", "ServiceUnavailable")


class AliyunSmsGateway:
    """Aliyun's SMS API (Dysms `SendSms`, version 2017-05-25, RPC style, form POST): sends the
    notification's template, registered with Aliyun and mapped in GRIDCASE_NOTIFY_TEMPLATES, to
    the recipient's phone. Aliyun has no idempotency key: the notification id goes as `OutId`,
    which its delivery receipts carry, so a repeat after a crash can be reconciled."""

    def __init__(
        self,
        url: str,
        access_key_id: str,
        access_key_secret: str,
        sign_name: str,
        templates: dict[str, str],
        region: str = "cn-hangzhou",
        timeout: float = 10.0,
    ) -> None:
        self._url, self._key_id, self._secret = url, access_key_id, access_key_secret
        self._sign_name, self._templates, self._region = sign_name, templates, region
        self._http = httpx.AsyncClient(timeout=timeout)

    async def __call__(self, message: Message) -> None:
        if not message.phone:
            raise Undeliverable(f"no phone for {message.recipient}")
        template = self._templates.get(message.kind)
        if template is None:
            raise Undeliverable(f"no template id for {message.kind!r} (GRIDCASE_NOTIFY_TEMPLATES)")
        params = {
            "AccessKeyId": self._key_id,
            "Action": "SendSms",
            "Format": "JSON",
            "OutId": message.id,
            "PhoneNumbers": message.phone,
            "RegionId": self._region,
            "SignName": self._sign_name,
            "SignatureMethod": "HMAC-SHA1",
            "SignatureNonce": uuid.uuid4().hex,  # a new one each attempt: Aliyun refuses repeats
            "SignatureVersion": "1.0",
            "TemplateCode": template,
            "TemplateParam": json.dumps(message.params, ensure_ascii=False),
            "Timestamp": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "Version": "2017-05-25",
        }
        params["Signature"] = rpc_signature("POST", params, self._secret)
        response = await self._http.post(self._url, data=params)
        if response.status_code >= 500:
            response.raise_for_status()
        try:
            answer: dict[str, Any] = response.json()
        except ValueError:
            raise Deferred(f"{response.status_code}: not a JSON answer") from None
        code = str(answer.get("Code"))
        if code == "OK":
            return
        error = f"{code}: {answer.get('Message')}"
        if code.startswith(_LATER) or response.status_code in _TRANSIENT_4XX:
            raise Deferred(error)
        raise Undeliverable(error)

    async def aclose(self) -> None:
        await self._http.aclose()


def gateway_from(settings: Settings) -> Gateway:
    """The gateway the settings choose; a missing setting is a one-line start-up error."""
    chosen = settings.notify_gateway or ("webhook" if settings.notify_webhook_url else "log")
    if chosen == "webhook":
        if not settings.notify_webhook_url:
            raise StartupError("GRIDCASE_NOTIFY_GATEWAY=webhook needs GRIDCASE_NOTIFY_WEBHOOK_URL")
        return WebhookGateway(settings.notify_webhook_url, settings.notify_templates)
    if chosen == "aliyun_sms":
        secret = settings.sms_access_key_secret
        missing = [
            name
            for name, value in (
                ("GRIDCASE_SMS_ACCESS_KEY_ID", settings.sms_access_key_id),
                ("GRIDCASE_SMS_ACCESS_KEY_SECRET", secret),
                ("GRIDCASE_SMS_SIGN_NAME", settings.sms_sign_name),
            )
            if not value
        ]
        if missing:
            raise StartupError(f"GRIDCASE_NOTIFY_GATEWAY=aliyun_sms needs {', '.join(missing)}")
        assert settings.sms_access_key_id and secret and settings.sms_sign_name
        return AliyunSmsGateway(
            settings.sms_url,
            settings.sms_access_key_id,
            secret.get_secret_value(),
            settings.sms_sign_name,
            settings.notify_templates,
            region=settings.sms_region,
        )
    return LogGateway()

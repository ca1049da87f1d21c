"""Notifications through an SMS gateway shaped like Aliyun's (Dysms `SendSms`): a local fake
checks each request's signature the way the documentation computes it (written here again, not
borrowed from the code under test), answers in Aliyun's shapes, and sends only registered
templates with all their parameters. The phone is read when the notification is sent: a unit's
duty phone changed after the case started is the one that rings."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import uuid
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl

import httpx
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from sqlalchemy import select, update

from db.models import Notification, Unit
from tests.integration.conftest import new_case, served
from tests.integration.test_case_api import LIFECYCLE, drive
from worker.gateways import AliyunSmsGateway
from worker.outbox import Retries, deliver_pending

KEY_ID, SECRET, SIGN_NAME = "LTAI-test", "test-secret", "仓口街道"
# What the city registered with the gateway: its template ids and each one's variables.
TEMPLATES = {"dispatched": "SMS_900001", "urge": "SMS_900002", "rating": "SMS_900003"}
VARIABLES = {
    "SMS_900001": {"case_id", "due_at"},
    "SMS_900002": {"case_id"},
    "SMS_900003": {"case_id", "due_at"},
}
UNRESERVED = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.~"


def encode(text: str) -> str:
    """The documented rule, byte by byte: only A-Z a-z 0-9 - _ . ~ stay literal."""
    return "".join(chr(b) if b in UNRESERVED else f"%{b:02X}" for b in text.encode())


class FakeAliyun:
    """Answers as the SMS API does: 400 SignatureDoesNotMatch / SignatureNonceUsed, 404 for an
    unknown key, 200 with an `isv.*` code for a refused message, and flow control
    (isv.BUSINESS_LIMIT_CONTROL) for the first `throttle` requests to a throttled number."""

    def __init__(self) -> None:
        self.sent: list[dict[str, Any]] = []
        self.nonces: set[str] = set()
        self.throttled: dict[str, int] = {}
        self.app = FastAPI()
        self.app.post("/")(self.send_sms)

    @staticmethod
    def _answer(status: int, code: str, message: str) -> JSONResponse:
        body = {"RequestId": uuid.uuid4().hex.upper(), "Code": code, "Message": message}
        if status != 200:
            body |= {"HostId": "dysmsapi.aliyuncs.com", "Recommend": "https://api.aliyun.com"}
        return JSONResponse(body, status)

    async def send_sms(self, request: Request) -> JSONResponse:
        form = dict(parse_qsl((await request.body()).decode(), keep_blank_values=True))
        signature = form.pop("Signature", "")
        if form.get("AccessKeyId") != KEY_ID:
            return self._answer(
                404, "InvalidAccessKeyId.NotFound", "Specified access key is not found."
            )
        canonical = "&".join(f"{encode(k)}={encode(v)}" for k, v in sorted(form.items()))
        to_sign = f"{request.method}&{encode('/')}&{encode(canonical)}"
        expected = base64.b64encode(
            hmac.new(f"{SECRET}&".encode(), to_sign.encode(), hashlib.sha1).digest()
        ).decode()
        if not hmac.compare_digest(signature, expected):
            return self._answer(
                400,
                "SignatureDoesNotMatch",
                "Specified signature is not matched with our calculation. "
                f"server string to sign is:{to_sign}",
            )
        if form["SignatureNonce"] in self.nonces:
            return self._answer(
                400, "SignatureNonceUsed", "Specified signature nonce was used already."
            )
        self.nonces.add(form["SignatureNonce"])
        assert (
            form["Action"],
            form["Version"],
            form["SignatureMethod"],
            form["SignatureVersion"],
        ) == (
            "SendSms",
            "2017-05-25",
            "HMAC-SHA1",
            "1.0",
        )
        stamp = datetime.strptime(form["Timestamp"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
        assert abs((datetime.now(UTC) - stamp).total_seconds()) < 900  # Aliyun allows 15 min
        phone, template = form["PhoneNumbers"], form["TemplateCode"]
        if not (len(phone) == 11 and phone.isdigit() and phone.startswith("1")):
            return self._answer(200, "isv.MOBILE_NUMBER_ILLEGAL", "非法手机号")
        if template not in VARIABLES or form["SignName"] != SIGN_NAME:
            return self._answer(200, "isv.SMS_TEMPLATE_ILLEGAL", "该账号下找不到对应模板")
        params = json.loads(form["TemplateParam"])
        if set(params) != VARIABLES[template]:
            return self._answer(200, "isv.TEMPLATE_MISSING_PARAMETERS", "模板缺少变量")
        if self.throttled.get(phone, 0) > 0:
            self.throttled[phone] -= 1
            return self._answer(200, "isv.BUSINESS_LIMIT_CONTROL", "触发分钟级流控Permits:1")
        self.sent.append(
            {"phone": phone, "template": template, "params": params, "out_id": form["OutId"]}
        )
        return JSONResponse(
            {
                "RequestId": uuid.uuid4().hex,
                "Code": "OK",
                "Message": "OK",
                "BizId": uuid.uuid4().hex,
            }
        )


def gateway(url: str, secret: str = SECRET) -> AliyunSmsGateway:
    return AliyunSmsGateway(url, KEY_ID, secret, SIGN_NAME, TEMPLATES)


async def rows(sessions: Any, case_id: str) -> dict[str, Notification]:
    async with sessions() as session:
        found = await session.scalars(select(Notification).where(Notification.case_id == case_id))
        return {row.kind: row for row in found}


async def set_duty_phone(sessions: Any, unit: str, phone: str) -> None:
    async with sessions.begin() as session:
        await session.execute(update(Unit).where(Unit.code == unit).values(duty_phone=phone))


async def test_templates_reach_the_duty_phone_read_at_send_time_and_the_reporter(
    api: httpx.AsyncClient, sessions: Any
) -> None:
    case = (await api.post("/v1/cases", json=new_case())).json()
    await drive(api, case["id"], ("urge", {"note": "请联系李先生 13900000002 尽快签收"}))
    await set_duty_phone(sessions, case["unit"], "13700000077")  # after the case was dispatched
    fake = FakeAliyun()
    async with served(fake.app) as url:
        send = gateway(url)
        await deliver_pending(sessions, send, batch=500)
        await drive(api, case["id"], *LIFECYCLE[:4])  # up to the reply: the rating SMS
        await deliver_pending(sessions, send, batch=500)
        await send.aclose()

    mine = {s["out_id"]: s for s in fake.sent if s["params"]["case_id"] == case["id"]}
    sent = await rows(sessions, case["id"])
    assert sent["dispatched"].sent_at and sent["urge"].sent_at and sent["rating"].sent_at
    dispatched, urge, rating = (mine[sent[k].id] for k in ("dispatched", "urge", "rating"))
    assert dispatched["phone"] == urge["phone"] == "13700000077"
    assert dispatched["template"] == "SMS_900001" and set(dispatched["params"]) == {
        "case_id",
        "due_at",
    }
    assert urge == {
        "phone": "13700000077",
        "template": "SMS_900002",
        "params": {"case_id": case["id"]},
        "out_id": sent["urge"].id,
    }
    assert rating["phone"] == "13900000002" and rating["template"] == "SMS_900003"  # the reporter
    assert all("李先生" not in json.dumps(s["params"], ensure_ascii=False) for s in fake.sent)


async def test_a_bad_signature_is_a_dead_letter_an_operator_sends_again_once_fixed(
    api: httpx.AsyncClient, sessions: Any
) -> None:
    case = (await api.post("/v1/cases", json=new_case())).json()
    await set_duty_phone(sessions, case["unit"], "13700000078")
    fake = FakeAliyun()
    async with served(fake.app) as url:
        wrong = gateway(url, secret="not-the-secret")
        await deliver_pending(sessions, wrong, batch=500)
        await wrong.aclose()
        row = (await rows(sessions, case["id"]))["dispatched"]
        assert row.dead_at is not None and row.attempts == 1
        assert (row.last_error or "").startswith("Undeliverable: SignatureDoesNotMatch")
        assert row.id in [d["id"] for d in (await api.get("/v1/outbox/dead")).json()]

        assert (await api.post(f"/v1/outbox/dead/{row.id}/retry")).status_code == 200
        fixed = gateway(url)
        await deliver_pending(sessions, fixed, batch=500)
        await fixed.aclose()
    row = (await rows(sessions, case["id"]))["dispatched"]
    assert row.sent_at is not None and row.dead_at is None
    assert [s["phone"] for s in fake.sent if s["out_id"] == row.id] == ["13700000078"]


async def test_flow_control_waits_a_backoff_and_a_wrong_number_is_given_up_at_once(
    api: httpx.AsyncClient, sessions: Any
) -> None:
    throttled = (await api.post("/v1/cases", json=new_case())).json()
    await set_duty_phone(sessions, throttled["unit"], "13700000079")
    fake = FakeAliyun()
    fake.throttled["13700000079"] = 1
    async with served(fake.app) as url:
        send = gateway(url)
        await deliver_pending(sessions, send, batch=500, retries=Retries(first_backoff=0))
        row = (await rows(sessions, throttled["id"]))["dispatched"]
        assert row.sent_at is None and row.dead_at is None and row.next_attempt_at is not None
        assert "isv.BUSINESS_LIMIT_CONTROL" in (row.last_error or "")
        await deliver_pending(sessions, send, batch=500, retries=Retries(first_backoff=0))
        row = (await rows(sessions, throttled["id"]))["dispatched"]
        assert row.sent_at is not None and row.attempts == 2  # a fresh nonce the second time

        await set_duty_phone(sessions, throttled["unit"], "0532-8080")  # a desk phone: no SMS
        wrong = (await api.post("/v1/cases", json=new_case())).json()
        await deliver_pending(sessions, send, batch=500)
        await send.aclose()
    row = (await rows(sessions, wrong["id"]))["dispatched"]
    assert row.dead_at is not None and row.attempts == 1
    assert "isv.MOBILE_NUMBER_ILLEGAL" in (row.last_error or "")

"""What Open311 words mean in gridcase: a service is a category (with the questions of
`config/service_definitions.yaml`), a service request is a case, and every public step of the
case's event log is a service request update (FixMyStreet's `servicerequestupdates`)."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict
from sqlalchemy import Select, and_, or_, select

from api.routes.open311.formats import Open311Error, w3, when
from db.models import Case, CaseEventRow, Category
from domain.case import Deadline
from domain.permissions import mask_phone
from domain.sla import DeadlineKind

# The spec's limit for a request's description (gridcase keeps all of it), and room for the
# answers to the service's questions beside it (domain.common.Description holds both).
MAX_DESCRIPTION = 4000
MAX_ANSWERS = 1000
MAX_ANSWER = 200
# The most rows one read answers.
MAX_ROWS = 1000


# ---- services and their questions ----------------------------------------------------------


class ListValue(BaseModel):
    model_config = ConfigDict(extra="forbid")

    key: str
    name: str


class Attribute(BaseModel):
    """One question of a service definition, as the spec lists it."""

    model_config = ConfigDict(extra="forbid")

    code: str
    datatype: Literal["string", "number", "datetime", "text", "singlevaluelist", "multivaluelist"]
    required: bool = False
    description: str
    order: int | None = None
    values: list[ListValue] = []


@lru_cache(maxsize=4)
def definitions(config_dir: Path) -> dict[str, list[Attribute]]:
    path = config_dir / "service_definitions.yaml"
    loaded = yaml.safe_load(path.read_text(encoding="utf-8")) if path.exists() else None
    return {
        code: [Attribute.model_validate(a) for a in attributes]
        for code, attributes in (loaded or {}).items()
    }


def service_out(category: Category, questions: Mapping[str, list[Attribute]]) -> dict[str, Any]:
    return {
        "service_code": category.code,
        "service_name": category.name,
        "description": category.name,
        "metadata": category.code in questions,
        "type": "realtime",
        "keywords": ",".join([category.code.split(".")[-1], *category.kinds]),
        "group": category.code.split(".")[0],
    }


def definition_out(code: str, questions: list[Attribute]) -> dict[str, Any]:
    return {
        "service_code": code,
        "attributes": [
            {
                "variable": True,
                "code": a.code,
                "datatype": a.datatype,
                "required": a.required,
                "datatype_description": None,
                "order": a.order or i + 1,
                "description": a.description,
                "values": [v.model_dump() for v in a.values],
            }
            for i, a in enumerate(questions)
        ],
    }


_ATTRIBUTE_KEY = re.compile(r"^attribute\[([^\[\]]+)\](\[\])?$")


def answers(fields: Iterable[tuple[str, str]], questions: list[Attribute]) -> dict[str, list[str]]:
    """The answers to a service's questions from the form: `attribute[code]=v`, or
    `attribute[code][]=v1&attribute[code][]=v2` for a multi-value list. Every required question
    must be answered and every answer must fit its datatype; answers to questions the service
    does not ask are ignored (clients such as FixMyStreet add their own)."""
    given: dict[str, list[str]] = {}
    for key, value in fields:
        if (match := _ATTRIBUTE_KEY.match(key)) and value.strip():
            given.setdefault(match.group(1), []).append(value.strip())
    chosen: dict[str, list[str]] = {}
    for question in questions:
        values = given.get(question.code, [])
        if not values:
            if question.required:
                raise Open311Error(
                    400, f"attribute {question.code} is required: {question.description}"
                )
            continue
        chosen[question.code] = _checked(question, values)
    return chosen


def _checked(question: Attribute, values: list[str]) -> list[str]:
    code = question.code
    if question.datatype != "multivaluelist" and len(values) > 1:
        raise Open311Error(400, f"attribute {code} takes one value, got {len(values)}")
    if any(len(v) > MAX_ANSWER for v in values):
        raise Open311Error(400, f"attribute {code}: an answer may have {MAX_ANSWER} characters")
    if question.datatype in ("singlevaluelist", "multivaluelist"):
        keys = [v.key for v in question.values]
        if unknown := [v for v in values if v not in keys]:
            raise Open311Error(400, f"attribute {code}: {unknown[0]!r} is not one of {keys}")
    elif question.datatype == "number":
        try:
            float(values[0])
        except ValueError:
            raise Open311Error(400, f"attribute {code} must be a number") from None
    elif question.datatype == "datetime":
        when(f"attribute {code}", values[0])
    return values


def with_answers(description: str, chosen: Mapping[str, list[str]]) -> str:
    """The case's description: the resident's words, then one line per answered question."""
    lines = "\n".join(f"{code}: {', '.join(values)}" for code, values in chosen.items())
    if len(lines) > MAX_ANSWERS:
        raise Open311Error(400, f"the answers may have {MAX_ANSWERS} characters in all")
    return f"{description}\n{lines}" if lines else description


# ---- requests and their updates ------------------------------------------------------------


@dataclass(frozen=True)
class Step:
    """A public step of a case as an Open311 update: its status (FixMyStreet's extended
    statuses), a plain sentence in Chinese and English, and the event field whose own words the
    resident should read instead, when there are any (the unit's reply, a rejection's reason)."""

    status: str
    zh: str
    en: str
    words: str | None = None


# Event types not listed here stay internal: reminders, escalations, urges, extension requests,
# ratings, linkage steps, reviews. A `closed` after a rejection or a merge says nothing new.
PUBLIC_STEPS: dict[str, Step] = {
    "received": Step("open", "已受理", "Received"),
    "dispatched": Step("open", "已派单至{unit}", "Sent to {unit}"),
    "reassign": Step("internal_referral", "已改派至{unit}", "Passed on to {unit}"),
    "return": Step(
        "internal_referral", "承办单位退回,正在重新派单", "Being passed to the right unit"
    ),
    "rule_on_return": Step(
        "internal_referral", "综治中心裁定由{unit}承办", "Assigned to {unit} by the centre"
    ),
    "accept": Step("in_progress", "{unit}已签收", "Accepted by {unit}"),
    "contact": Step("in_progress", "承办单位已联系诉求人", "The unit has contacted the reporter"),
    "progress": Step("in_progress", "正在办理", "Work in progress"),
    "suspend": Step("in_progress", "暂停办理,等待相关方", "On hold, waiting on a third party"),
    "resume": Step("in_progress", "恢复办理", "Work resumed"),
    "auto_resumed": Step("in_progress", "恢复办理", "Work resumed"),
    "approve_extension": Step("in_progress", "办理期限已延长", "The deadline was extended"),
    "reply": Step("in_progress", "承办单位已答复", "The unit replied", words="result"),
    "rehandling": Step("in_progress", "重新办理", "Being handled again"),
    "reopen": Step("in_progress", "重新办理", "Being handled again"),
    "resolve_on_site": Step("fixed", "网格员已就地解决", "Fixed on the spot", words="note"),
    "reject": Step(
        "not_councils_responsibility", "不予受理", "Not a matter for the city", words="reason"
    ),
    "merge": Step("duplicate", "与 {into} 合并办理", "Handled together with {into}"),
    "closed": Step("closed", "已办结", "Closed"),
}
# The events that are public steps, as SQL.
PUBLIC_EVENT = and_(
    CaseEventRow.type.in_(list(PUBLIC_STEPS)),
    or_(
        CaseEventRow.type != "closed",
        CaseEventRow.data["outcome"].astext.not_in(["rejected", "duplicate"]),
    ),
)


def updates_in(channels: list[str], start: datetime, end: datetime) -> Select[CaseEventRow]:
    """The public steps of the published cases between start and end, oldest first."""
    return (
        select(CaseEventRow)
        .join(Case, Case.id == CaseEventRow.case_id)
        .where(
            Case.channel.in_(channels),
            PUBLIC_EVENT,
            CaseEventRow.at >= start,
            CaseEventRow.at <= end,
        )
        .order_by(CaseEventRow.at, CaseEventRow.case_id, CaseEventRow.seq)
        .limit(MAX_ROWS)
    )


def update_out(event: CaseEventRow, names: Mapping[str, str]) -> dict[str, Any]:
    step = PUBLIC_STEPS[event.type]
    return {
        "update_id": f"{event.case_id}-{event.seq}",
        "service_request_id": event.case_id,
        "status": step.status,
        "description": describe(event, names),
        "updated_datetime": w3(event.at),
        "media_url": event.data.get("evidence_url") or "",
    }


def describe(event: CaseEventRow, names: Mapping[str, str]) -> str:
    step = PUBLIC_STEPS[event.type]
    words = event.data.get(step.words) if step.words else None
    if words:
        return redact(str(words))
    unit = names.get(event.data.get("unit") or "", "承办单位")
    into = str(event.data.get("into") or "")
    return f"{step.zh.format(unit=unit, into=into)} / {step.en.format(unit=unit, into=into)}"


def request_out(
    case: Case, names: Mapping[str, str], latest: CaseEventRow | None
) -> dict[str, Any]:
    """A case as the spec's service request; `status_notes` is its latest public step."""
    return {
        "service_request_id": case.id,
        "status": "closed" if case.status == "closed" else "open",
        "status_notes": describe(latest, names) if latest else None,
        "service_name": names.get(case.category, case.category),
        "service_code": case.category,
        "description": redact(case.description),
        "agency_responsible": names.get(case.unit) if case.unit else None,
        "service_notice": None,
        "requested_datetime": w3(case.received_at),
        "updated_datetime": w3(case.updated_at),
        "expected_datetime": expected([Deadline.model_validate(d) for d in case.deadlines]),
        "address": redact(case.address),
        "address_id": None,
        "zipcode": None,
        "lat": case.lat,
        "long": case.lon,
        "media_url": case.photo_url,
    }


def expected(deadlines: list[Deadline]) -> str | None:
    """expected_datetime: our reply deadline, while it is still ahead."""
    reply = next((d for d in deadlines if d.kind is DeadlineKind.reply), None)
    return w3(reply.due_at) if reply and reply.met_at is None else None


# A run of 7 or more digits (spaces and dashes between them allowed): a phone number a
# resident typed into free text, which public reads never show in full.
_PHONE_IN_TEXT = re.compile(r"(?<!\d)\+?\d(?:[ \-]?\d){6,}(?!\d)")


def redact(text: str) -> str:
    return _PHONE_IN_TEXT.sub(lambda m: mask_phone(re.sub(r"\D", "", m.group())), text)

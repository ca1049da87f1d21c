"""The form of each action, read off the body its API route takes (a model in domain/), so a field
added there shows up here: the console keeps no second list of actions or of what they take."""

from __future__ import annotations

import json
import types
import typing
from dataclasses import dataclass
from datetime import date, datetime
from enum import Enum
from typing import Any

from fastapi.routing import APIRoute
from pydantic import AwareDatetime, BaseModel, HttpUrl

from api.console import words
from api.routes.actions import router as action_routes
from domain.calendar import SUBDISTRICT_TZ

_CASE_PATH = "/v1/cases/{case_id}/"


def _inputs() -> dict[str, tuple[str, type[BaseModel]]]:
    """action -> (its path under the case, its body model), from the API's action routes."""
    found = {}
    for route in action_routes.routes:
        if isinstance(route, APIRoute) and route.dependant.body_params:
            path = route.path.removeprefix(_CASE_PATH)
            model = route.dependant.body_params[0].field_info.annotation
            if isinstance(model, type) and issubclass(model, BaseModel):
                found[path.rsplit("/", 1)[-1]] = (path, model)
    return found


INPUTS = _inputs()
_INTERNAL = {"actor", "principal"}  # filled in by the API from the token


@dataclass(frozen=True)
class Field:
    name: str
    label: str
    # text | textarea | choice | yesno | datetime | date | number | url | list | json | hidden
    kind: str
    required: bool
    choices: tuple[tuple[str, str], ...] = ()  # (value, its words)
    value: str = ""  # a hidden field's value; a json field's example


# Fields that name a unit: chosen from the units by name.
UNIT_FIELDS = ("unit", "agency")
LONG_TEXT = ("note", "reason", "result", "verdict", "comment", "notes", "ruling", "grounds")


def _bare(annotation: Any) -> tuple[Any, bool]:
    """The type inside Optional / Annotated, and whether None was allowed."""
    optional = False
    while True:
        origin = typing.get_origin(annotation)
        if origin is typing.Annotated:
            annotation = typing.get_args(annotation)[0]
        elif origin in (typing.Union, types.UnionType):
            args = [a for a in typing.get_args(annotation) if a is not type(None)]
            optional = optional or len(args) < len(typing.get_args(annotation))
            annotation = args[0]
        else:
            return annotation, optional


def _structured(annotation: Any) -> bool:
    """A record, or a list of records: more than one text field can say."""
    if typing.get_origin(annotation) is list:
        annotation = _bare(typing.get_args(annotation)[0])[0]
    return isinstance(annotation, type) and issubclass(annotation, BaseModel)


def _example(annotation: Any) -> Any:
    """The shape of a record's JSON: its required fields, empty (a list shows two records)."""
    if typing.get_origin(annotation) is list:
        one = _example(_bare(typing.get_args(annotation)[0])[0])
        return [one, one]
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return {
            name: _example(_bare(info.annotation)[0])
            for name, info in annotation.model_fields.items()
            if info.is_required()
        }
    return ""


def fields(
    action: str,
    said: words.Words,
    units: dict[str, str] | None = None,
    fixed: dict[str, str] | None = None,
) -> list[Field]:
    """The form of `action` in the language `said`: `units` (code -> name) to choose a unit
    from, `fixed` values sent as they are (the agency a linkage form is about)."""
    return form_of(INPUTS[action][1], said, units, fixed)


def form_of(
    model: type[BaseModel],
    said: words.Words,
    units: dict[str, str] | None = None,
    fixed: dict[str, str] | None = None,
) -> list[Field]:
    """The fields of an input model, each with the control that can say its type."""
    out = []
    for name, info in model.model_fields.items():
        if name in _INTERNAL:
            continue
        kind_of, _ = _bare(info.annotation)
        label = said.FIELD.get(name, name)
        required = info.is_required()
        if fixed and name in fixed:
            out.append(Field(name, label, "hidden", required, value=fixed[name]))
        elif isinstance(kind_of, type) and issubclass(kind_of, Enum):
            table = said.CHOICE.get(kind_of.__name__, {})
            choices = tuple((m.value, table.get(m.value, m.value)) for m in kind_of)
            out.append(Field(name, label, "choice", required, choices))
        elif typing.get_origin(kind_of) is typing.Literal:  # its words under the field's name
            table = said.CHOICE.get(name, {})
            values = [str(v) for v in typing.get_args(kind_of)]
            choices = tuple((v, table.get(v, v)) for v in values)
            out.append(Field(name, label, "choice", required, choices))
        elif kind_of is bool:
            out.append(Field(name, label, "yesno", required, said.YES_NO))
        elif kind_of in (datetime, AwareDatetime):
            out.append(Field(name, label, "datetime", required))
        elif kind_of is date:
            out.append(Field(name, label, "date", required))
        elif kind_of is int:
            out.append(Field(name, label, "number", required))
        elif kind_of is HttpUrl:
            out.append(Field(name, label, "url", required))
        elif _structured(kind_of):  # nested records: written as JSON, shaped like the example
            example = json.dumps(_example(kind_of), ensure_ascii=False)
            out.append(Field(name, label, "json", required, value=example))
        elif typing.get_origin(kind_of) is list:
            out.append(Field(name, label, "list", required))
        elif name in UNIT_FIELDS and units:
            choices = tuple((code, f"{unit_name}（{code}）") for code, unit_name in units.items())
            out.append(Field(name, label, "choice", required, choices))
        elif name in LONG_TEXT:
            out.append(Field(name, label, "textarea", required))
        else:
            out.append(Field(name, label, "text", required))
    return out


def body(action: str, form: dict[str, str]) -> dict[str, Any]:
    """The JSON body for the API from the submitted form (empty optional fields left out; the
    API validates the rest and says what is wrong)."""
    return body_of(fields(action, words.ZH), form)


def body_of(fields: list[Field], form: dict[str, str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for field in fields:
        value = (form.get(field.name) or "").strip()
        if not value:
            continue
        if field.kind == "yesno":
            out[field.name] = value == "true"
        elif field.kind == "datetime":
            # A datetime-local field: the subdistrict's wall clock.
            moment = datetime.fromisoformat(value)
            out[field.name] = moment.replace(tzinfo=moment.tzinfo or SUBDISTRICT_TZ).isoformat()
        elif field.kind == "json":
            out[field.name] = json.loads(value)  # a ValueError: the form says what is wrong
        elif field.kind == "list":
            out[field.name] = [v.strip() for v in value.replace("，", ",").split(",") if v.strip()]
        else:
            out[field.name] = value
    return out

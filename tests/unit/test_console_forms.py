"""An action's form is read off its input model: each field gets the control that can say its
type, and the submitted form becomes the body the API validates."""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from pydantic import AwareDatetime, BaseModel, HttpUrl

from api.console.forms import body_of, form_of
from api.console.words import EN, ZH
from domain.case import Grade
from domain.common import ActionInput


class Place(BaseModel):
    address: str
    grid: str | None = None


class Part(BaseModel):
    category: str
    title: str
    place: Place
    severity: str | None = None


class EveryKind(ActionInput):
    note: str
    grade: Grade | None = None
    solved: bool
    due_at: AwareDatetime
    on: date | None = None
    times: int | None = None
    evidence_url: HttpUrl | None = None
    agencies: list[str] | None = None
    children: list[Part]
    unit: str
    against: Literal["unsatisfied", "deadline"]


def test_each_field_gets_the_control_for_its_type() -> None:
    units = {"GT-C01-G02": "第2微网格团队"}
    form = {f.name: f for f in form_of(EveryKind, ZH, units)}
    assert set(form) == set(EveryKind.model_fields) - {"actor", "principal"}
    kinds = {name: f.kind for name, f in form.items()}
    assert kinds == {
        "note": "textarea",
        "grade": "choice",
        "solved": "yesno",
        "due_at": "datetime",
        "on": "date",
        "times": "number",
        "evidence_url": "url",
        "agencies": "list",
        "children": "json",
        "unit": "choice",
        "against": "choice",
    }
    assert form["grade"].choices == (
        ("satisfied", "满意"),
        ("basically_satisfied", "基本满意"),
        ("unsatisfied", "不满意"),
    )
    assert form["against"].choices == (("unsatisfied", "不满意评价"), ("deadline", "超时"))
    assert form["unit"].choices == (("GT-C01-G02", "第2微网格团队（GT-C01-G02）"),)
    assert form["note"].required and not form["grade"].required
    # A list of records is written as JSON, shaped like the example of its required fields.
    one = '{"category": "", "title": "", "place": {"address": ""}}'
    assert form["children"].value == f"[{one}, {one}]"
    english = {f.name: f for f in form_of(EveryKind, EN, units)}
    assert english["grade"].choices[0] == ("satisfied", "Satisfied")
    assert english["note"].label == "Note"


def test_the_submitted_form_becomes_the_body() -> None:
    fields = form_of(EveryKind, ZH, fixed={"unit": "GT-C01-G02"})
    sent = body_of(
        fields,
        {
            "note": " 已处理 ",
            "grade": "",
            "solved": "false",
            "due_at": "2026-12-01T09:30",
            "agencies": "DA-POLICE， SD-CIVIL",
            "children": '[{"category": "a", "title": "t", "place": {"address": "x"}}]',
            "unit": "GT-C01-G02",
            "times": "2",
            "against": "deadline",
        },
    )
    assert sent == {
        "note": "已处理",
        "solved": False,
        "due_at": "2026-12-01T09:30:00+08:00",  # the subdistrict's wall clock
        "agencies": ["DA-POLICE", "SD-CIVIL"],
        "children": [{"category": "a", "title": "t", "place": {"address": "x"}}],
        "unit": "GT-C01-G02",
        "times": "2",  # the API's model reads the number
        "against": "deadline",
    }
    assert EveryKind.model_validate(sent).due_at == datetime.fromisoformat(
        "2026-12-01T09:30:00+08:00"
    )

"""The console's words: every status, action, deadline kind and state, event, error, rate and form
field has a word in every language, so nothing a case can show falls back to a code (a new action
on main fails here until its words are added)."""

from __future__ import annotations

import typing
from enum import Enum

import pytest

import api.main  # noqa: F401  (loads every module that defines an error)
from api.console import forms
from api.console.words import LANGUAGES, ZH, Words
from api.errors import GridcaseError
from domain.case import Action, CaseStatus, Channel, EventType, Grade, Outcome, Severity
from domain.kpi import RATE_KEYS
from domain.linkage import AgencyStatus, LinkageAction, LinkageStatus
from domain.permissions import Role
from domain.sla import DeadlineKind
from domain.timeline import State

# Errors the console says itself (not an API error class's code).
CONSOLE_ERRORS = {"invalid_csrf", "invalid_token", "invalid_body", "invalid_request"}
# Events the linkage tells its case (by name, in workflows/linkage.py).
LINKAGE_EVENTS = {
    "linkage_opened",
    "linkage_closed",
    "linkage_cancelled",
    "agency_added",
    "agency_released",
    "agency_reminded",
    "agency_reported",
    "agency_done",
    "agency_late",
}


def _codes(*kinds: type[Enum]) -> set[str]:
    return {member.value for kind in kinds for member in kind}


def _error_codes() -> set[str]:
    found, todo = set(), [GridcaseError]
    while todo:
        kind = todo.pop()
        found.add(kind.code)
        todo += kind.__subclasses__()
    return found | CONSOLE_ERRORS


@pytest.mark.parametrize("said", LANGUAGES.values(), ids=list(LANGUAGES))
def test_every_code_a_case_can_show_has_a_word(said: Words) -> None:
    tables: list[tuple[dict[str, str], set[str]]] = [
        (said.STATUS, _codes(CaseStatus)),
        (said.ACTION, _codes(Action, LinkageAction) | set(forms.INPUTS)),
        (said.EVENT, _codes(Action, EventType) | LINKAGE_EVENTS),
        (said.DEADLINE, _codes(DeadlineKind)),
        (said.DEADLINE_STATE, set(typing.get_args(State))),
        (said.CHANNEL, _codes(Channel)),
        (said.SEVERITY, _codes(Severity)),
        (said.GRADE, _codes(Grade)),
        (said.OUTCOME, _codes(Outcome)),
        (said.ROLE, _codes(Role)),
        (said.LINKAGE, _codes(LinkageStatus)),
        (said.AGENCY, _codes(AgencyStatus)),
        (said.RATE, set(RATE_KEYS)),
        (said.ERROR, _error_codes()),
    ]
    for table, codes in tables:
        assert codes - set(table) == set()
        assert all(table[code].strip() for code in codes)


@pytest.mark.parametrize("said", LANGUAGES.values(), ids=list(LANGUAGES))
def test_every_action_form_is_labelled(said: Words) -> None:
    for action in forms.INPUTS:
        for field in forms.fields(action, said):
            assert field.name in said.FIELD, (action, field.name)
            if field.kind == "choice":  # an enum's values, each in words
                assert all(word != value for value, word in field.choices), (action, field)


def test_the_languages_say_the_same_things() -> None:
    for said in LANGUAGES.values():
        assert set(said.UI) == set(ZH.UI)
        assert said.UI["other_lang"] in LANGUAGES and said.UI["other_lang"] != said.code


def test_an_error_in_either_language() -> None:
    en = LANGUAGES["en"]
    assert en.error("not_allowed_now", "cannot reply") == (
        "Not allowed in the case's current state (cannot reply)"
    )
    assert ZH.error("not_allowed_now", "cannot reply") == "工单当前状态不允许此操作（cannot reply）"

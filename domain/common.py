"""Small shared pieces of the domain: text constraints, the base of every action's input, a
notification queued by an event, and why an action is refused."""

from __future__ import annotations

import re
from typing import Annotated, Any, TypeVar

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
)
from pydantic.json_schema import SkipJsonSchema

from domain.permissions import Principal

# U+0000 and the other C0 controls, except tab, newline and carriage return: PostgreSQL refuses
# NUL in text, and none of them belongs in what a person writes.
CONTROL_CHARACTERS = r"[\x00-\x08\x0b\x0c\x0e-\x1f]"
_CONTROL = re.compile(CONTROL_CHARACTERS)


def _no_control_characters(text: str) -> str:
    if _CONTROL.search(text):
        raise ValueError("control characters are not allowed in text (tab and newline are)")
    return text


# Every text a caller sends goes through one of these types.
Clean = Annotated[
    str,
    AfterValidator(_no_control_characters),
    Field(json_schema_extra={"pattern": f"^[^{CONTROL_CHARACTERS[1:-1]}]*$"}),
]
Text = Annotated[Clean, StringConstraints(strip_whitespace=True, min_length=1, max_length=2000)]
# A case's description: the resident's words (up to Open311's 4,000 characters) and the answers
# to the service's questions (up to 1,000 more).
Description = Annotated[
    Clean, StringConstraints(strip_whitespace=True, min_length=1, max_length=5000)
]
ShortText = Annotated[Clean, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Code = Annotated[Clean, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)]
Phone = Annotated[
    str, StringConstraints(strip_whitespace=True, pattern=r"^\+?[0-9][0-9\- ]{4,19}$")
]
# Enough to tell an address from a typo; whether it reaches anyone only a mail can tell.
_EMAIL_PART = r"[^@\s\x00-\x1f\x7f]+"
Email = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True,
        max_length=254,
        pattern=f"^{_EMAIL_PART}@{_EMAIL_PART}\\.{_EMAIL_PART}$",
    ),
]


class ActionInput(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # Set by the API from the authenticated caller, never by the request body. The workflows
    # refuse an action without one (there is no default actor) and record its `actor`.
    principal: SkipJsonSchema[Principal | None] = None


class Notice(BaseModel):
    """A notification caused by event `seq`: written to the outbox with it, exactly once.

    `kind` is the template code (a gateway sends only templates a city registered) and `params`
    its values: codes, ids and times, never free text, which may carry personal data. The
    recipient is a unit code or `reporter(case id)`; the sender looks up the phone at send time,
    so no contact ever enters the workflow's history."""

    seq: int
    recipient: str
    kind: str
    params: dict[str, str] = {}


_REPORTER = "reporter:"


def reporter(case_id: str) -> str:
    """The outbox recipient for a case's reporter."""
    return f"{_REPORTER}{case_id}"


def reported_case(recipient: str) -> str | None:
    """The case whose reporter `recipient` names, or None for a unit."""
    return recipient.removeprefix(_REPORTER) if recipient.startswith(_REPORTER) else None


# ---- refusals: one type per meaning, mapped to HTTP once (api/errors.py) ------------------------


class Refused(Exception):
    """An action a case (or its linkage) will not take; `details` says why, for the error body."""

    def __init__(self, message: str, details: dict[str, Any]) -> None:
        super().__init__(message)
        self.message, self.details = message, details


class NotAllowedNow(Refused):
    """Not in the current state (HTTP 409)."""


class Forbidden(Refused):
    """Not by this caller, or by no authenticated caller at all (HTTP 403)."""


class InvalidReference(Refused):
    """Names what the reference data does not know, e.g. a split child's category (HTTP 422)."""


class InvalidInput(Refused):
    """The action's input does not parse (only a caller that skips the API can send one)."""


InputT = TypeVar("InputT", bound=ActionInput)


def parse(model: type[InputT], action: str, payload: dict[str, Any]) -> InputT:
    """An Update's payload as the action's input model."""
    try:
        return model.model_validate(payload)
    except ValidationError as invalid:
        raise InvalidInput(
            f"invalid input for {action}",
            {"action": action, "errors": invalid.errors(include_url=False)},
        ) from None

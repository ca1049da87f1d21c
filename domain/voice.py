"""The resident's own voice on an open case, with the per-case resident token (or through the
hotline's dispatcher): more information for the unit (`add_info`), and a chaser (`chase`, 催促)
that the policy limits per day."""

from __future__ import annotations

from datetime import date, datetime
from typing import Self

from pydantic import HttpUrl, model_validator

from domain.calendar import SUBDISTRICT_TZ
from domain.common import ActionInput, Text


class AddInfoInput(ActionInput):
    note: Text | None = None
    photo_url: HttpUrl | None = None

    @model_validator(mode="after")
    def _something_to_add(self) -> Self:
        if self.note is None and self.photo_url is None:
            raise ValueError("add a note or a photo_url")
        return self


class ChaseInput(ActionInput):
    note: Text | None = None


def chases_on(chased: list[date], at: datetime) -> int:
    """How many chasers the case had on the local day of `at`."""
    day = at.astimezone(SUBDISTRICT_TZ).date()
    return sum(1 for d in chased if d == day)

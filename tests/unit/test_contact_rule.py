"""The jurisdiction's contact rule: which of phone and email a reporter must give."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from domain.case import ContactRule, Reporter, missing_contact

PHONE = Reporter(name="李明", phone="13900000011")
EMAIL = Reporter(name="李明", email="li.ming@example.com")
BOTH = Reporter(name="李明", phone="13900000011", email="li.ming@example.com")
NEITHER = Reporter(name="李明")


@pytest.mark.parametrize(
    ("rule", "refused"),
    [
        (ContactRule.phone_or_email, {"李明 neither"}),
        (ContactRule.phone, {"李明 neither", "李明 email"}),
        (ContactRule.email, {"李明 neither", "李明 phone"}),
    ],
)
def test_each_rule_refuses_exactly_the_reporters_it_cannot_reach(
    rule: ContactRule, refused: set[str]
) -> None:
    reporters = {
        "李明 phone": PHONE,
        "李明 email": EMAIL,
        "李明 both": BOTH,
        "李明 neither": NEITHER,
    }
    assert {label for label, r in reporters.items() if missing_contact(r, rule)} == refused


def test_a_malformed_email_is_not_an_email() -> None:
    with pytest.raises(ValidationError):
        Reporter(name="李明", email="li.ming@example")

"""The permission table and the scope rules, directly."""

from __future__ import annotations

from domain.permissions import (
    CaseScope,
    Principal,
    Role,
    in_scope,
    mask_phone,
    may,
    permitted,
)

CASE = CaseScope(
    case_id="LC-2026-000001",
    unit="GT-C01-G01",
    grid="C01-G01",
    community="C01",
    committee="CO-C01",
    agencies=("DA-POLICE",),
)


def who(role: Role, **scope: object) -> Principal:
    return Principal(subject="someone", role=role, **scope)  # type: ignore[arg-type]


def test_roles_take_only_their_actions() -> None:
    assert may(who(Role.unit_handler, unit="GT-C01-G01"), "accept")
    assert not may(who(Role.dispatcher), "accept")
    assert may(who(Role.dispatcher), "reassign") and not may(who(Role.unit_handler), "reassign")
    assert not may(who(Role.operator), "urge") and may(who(Role.operator), "stats")
    assert may(who(Role.resident, case_id=CASE.case_id), "rate")
    assert not may(who(Role.resident), "list")
    assert all(may(who(Role.admin), action) for action in ("accept", "merge", "codec"))


def test_each_role_sees_its_own_cases_only() -> None:
    assert in_scope(who(Role.unit_handler, unit="GT-C01-G01"), CASE)
    assert in_scope(who(Role.unit_handler, unit="CO-C01"), CASE)  # its community's committee
    assert not in_scope(who(Role.unit_handler, unit="GT-C02-G01"), CASE)
    assert in_scope(who(Role.grid_worker, grids=("C01-G01",)), CASE)
    assert not in_scope(who(Role.grid_worker, grids=("C01-G02",)), CASE)
    assert in_scope(who(Role.supervisor, community="C01"), CASE)
    assert in_scope(who(Role.supervisor), CASE)  # the subdistrict's
    assert not in_scope(who(Role.supervisor, community="C02"), CASE)
    assert in_scope(who(Role.agency, unit="DA-POLICE"), CASE)
    assert not in_scope(who(Role.agency, unit="DA-JUSTICE"), CASE)
    assert in_scope(who(Role.resident, case_id=CASE.case_id), CASE)
    assert not in_scope(who(Role.resident, case_id="LC-2026-000002"), CASE)


def test_phone_numbers_are_masked() -> None:
    assert mask_phone("13900000002") == "139****0002"
    assert mask_phone("12345") == "****"


def test_only_the_unit_in_charge_handles_its_committee_reads_and_confirms() -> None:
    handler = who(Role.unit_handler, unit="GT-C01-G01")
    committee = who(Role.unit_handler, unit="CO-C01")
    for action in ("accept", "return", "contact", "progress", "reply", "suspend", "resume"):
        assert permitted(handler, action, CASE)
        assert not permitted(committee, action, CASE)
    assert not permitted(committee, "request_extension", CASE)
    assert permitted(committee, "read", CASE) and permitted(committee, "confirm", CASE)
    assert not permitted(who(Role.unit_handler, unit="CO-C02"), "confirm", CASE)
    assert not permitted(who(Role.dispatcher), "accept", CASE)  # the role's table first


def test_only_the_governance_centre_rules_on_a_disputed_return() -> None:
    assert permitted(who(Role.supervisor), "rule_on_return", CASE)  # the subdistrict's
    assert not permitted(who(Role.supervisor, community="C01"), "rule_on_return", CASE)
    assert permitted(who(Role.supervisor, community="C01"), "urge", CASE)  # its own community's
    assert not permitted(who(Role.dispatcher), "rule_on_return", CASE)

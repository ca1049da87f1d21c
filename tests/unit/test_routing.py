"""Routing: whoever is in charge is responsible; the most specific rule wins."""

import pytest

from domain.routing import NoRoutingRule, RoutingRule, route

RULES = [
    RoutingRule(code="R001", category="sanitation.dead_corner", unit="@grid_team"),
    RoutingRule(code="R002", category="sanitation.dead_corner", community="C05", unit="CO-C05"),
    RoutingRule(code="R003", category="sanitation.dead_corner", grid="C05-G02", unit="SD-URBAN"),
    RoutingRule(code="R004", category="utilities.water_outage", unit="UT-WATER"),
    RoutingRule(code="R005", category="dispute.neighbour", unit="@committee"),
]
PLACES = {
    "C01-G01": "GT-C01-G01",
    "C05-G01": "GT-C05-G01",
    "C05-G02": "GT-C05-G02",
    "C01": "CO-C01",
    "C05": "CO-C05",
}


def test_grid_rule_beats_community_rule_beats_subdistrict_rule() -> None:
    assert route(RULES, "sanitation.dead_corner", "C05-G02", "C05", PLACES).unit == "SD-URBAN"
    assert route(RULES, "sanitation.dead_corner", "C05-G01", "C05", PLACES).unit == "CO-C05"
    decision = route(RULES, "sanitation.dead_corner", "C01-G01", "C01", PLACES)
    assert (decision.unit, decision.rule) == ("GT-C01-G01", "R001")


def test_placeholders_resolve_to_the_team_of_the_case_own_place() -> None:
    assert route(RULES, "dispute.neighbour", None, "C01", PLACES).unit == "CO-C01"
    assert route(RULES, "utilities.water_outage", None, None, PLACES).unit == "UT-WATER"


def test_the_decision_names_the_rule_that_matched() -> None:
    decision = route(RULES, "sanitation.dead_corner", "C05-G02", "C05", PLACES)
    assert decision.rule == "R003"
    assert "C05-G02" in decision.reason


def test_no_rule_is_a_clear_error() -> None:
    with pytest.raises(NoRoutingRule, match=r"public_order\.flyers"):
        route(RULES, "public_order.flyers", "C01-G01", "C01", PLACES)


def test_a_grid_team_rule_without_a_grid_is_no_route() -> None:
    with pytest.raises(NoRoutingRule, match=r"sanitation\.dead_corner"):
        route(RULES, "sanitation.dead_corner", None, None, PLACES)

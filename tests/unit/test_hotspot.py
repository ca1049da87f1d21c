"""A hot spot counts requests inside its window (on their own receipt times), raises once, links
what comes while its governance case is open, and counts afresh after it closes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from core.config import ROOT
from domain.governance import GovernanceConfig
from domain.hotspot import Hotspot, HotspotRule, Sighting

T0 = datetime(2026, 11, 2, 1, 0, tzinfo=UTC)


def seen(case: str, days: float) -> Sighting:
    return Sighting(case_id=case, received_at=T0 + timedelta(days=days))


def hotspot() -> Hotspot:
    return Hotspot(
        grid="C01-G02",
        category="public_order.flyers",
        community="C01",
        rule=HotspotRule(count=3, window_days=7),
    )


def test_three_requests_within_the_window_raise_it_once() -> None:
    spot = hotspot()
    assert spot.see(seen("A", 0)) is None
    assert spot.see(seen("B", 3)) is None
    assert spot.see(seen("B", 3)) is None  # the same request signalled twice counts once
    raised = spot.see(seen("C", 6.9))
    assert raised is not None
    assert raised.cases == ["A", "B", "C"]
    assert raised.key == "hotspot:C01-G02:public_order.flyers:A"
    assert (raised.grid, raised.community, raised.category) == (
        "C01-G02",
        "C01",
        "public_order.flyers",
    )


def test_requests_older_than_the_window_are_forgotten() -> None:
    spot = hotspot()
    spot.see(seen("A", 0))
    spot.see(seen("B", 5))
    assert spot.see(seen("C", 7.5)) is None  # A fell out: B and C only
    assert [s.case_id for s in spot.recent] == ["B", "C"]
    late_report = spot.see(seen("D", 1))  # received earlier, signalled late: still inside
    assert late_report is not None and late_report.cases == ["D", "B", "C"]


def test_no_second_case_while_one_is_open_and_a_fresh_count_after_it_closes() -> None:
    spot = hotspot()
    for n, case in enumerate("ABC"):
        spot.see(seen(case, n))
    spot.opened("LC-2026-000009")
    for n, case in enumerate("DEF", start=3):
        assert spot.see(seen(case, n)) is None
    assert spot.cases == ["A", "B", "C", "D", "E", "F"]
    assert not spot.closed("LC-2026-000001")  # not its case
    assert spot.closed("LC-2026-000009")
    assert (spot.key, spot.governance_case, spot.cases, spot.recent) == (None, None, [], [])
    spot.see(seen("G", 7))
    spot.see(seen("H", 7))
    again = spot.see(seen("I", 8))
    assert again is not None and again.cases == ["G", "H", "I"] and spot.raised == 2


def test_the_demo_configuration_has_rules_tasks_and_who_files() -> None:
    config = GovernanceConfig.load(ROOT / "config")
    rules = config.hotspots
    assert rules.rule_for("public_order.flyers") == HotspotRule(count=3, window_days=7)
    assert rules.rule_for("consultation.policy") == rules.default == HotspotRule()
    assert config.reporter.name == "仓口街道综治中心"
    drains = config.task("drains-before-flood-season")
    assert drains is not None and drains.communities == ["C03"]
    assert config.task("no-such-task") is None

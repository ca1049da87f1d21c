"""The linkage's life on its own, without Temporal: each part reports and finishes on its own
clock, a reminder comes before a missed limit, a late part is escalated to the coordinator, an
agency acts for its own part only, and the linkage completes when every part is finished."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from domain import linkage as model
from domain.common import Forbidden, NotAllowedNow
from domain.linkage import (
    AddAgencyInput,
    AgencyDoneInput,
    AgencyInput,
    AgencyPart,
    LinkageAction,
    LinkageInput,
    LinkageStatus,
    ReleaseAgencyInput,
)
from domain.permissions import Principal, Role
from domain.sla import SlaPolicy

# Wednesday 2026-11-04 10:00 in the subdistrict (02:00 UTC): no holiday within a week.
T0 = datetime(2026, 11, 4, 2, 0, tzinfo=UTC)
POLICY = SlaPolicy(
    code="P", severity="major", accept="2h", contact="1d", reply="7d", rating_window="3d"
)  # agency_report 2h, agency_done 5wd, warn_share 0.8
CENTRE = Principal(subject="li", role=Role.dispatcher)


def agency(unit: str) -> Principal:
    return Principal(subject="wang", role=Role.agency, unit=unit)


def opened(*units: str) -> model.LinkageState:
    parts = [AgencyPart(unit=u, summoned_at=T0, report_due=T0 + timedelta(hours=2)) for u in units]
    return model.start(
        LinkageInput(
            case_id="C-1",
            case_title="楼道小广告",
            lead_unit="CO-C01",
            coordinator="SD-CENTER",
            reason="反复出现",
            parts=parts,
            policy=POLICY,
        )
    )


def test_a_part_reports_then_finishes_and_the_linkage_completes() -> None:
    state = opened("DA-URBAN")
    report = AgencyInput(agency="DA-URBAN", principal=agency("DA-URBAN"))
    step = model.act(state, LinkageAction.report, report, T0 + timedelta(hours=1))
    part = step.state.parts[0]
    assert part.status.value == "reported"
    # 5 working days from Wednesday: the next Wednesday, same clock time.
    assert part.done_due == datetime(2026, 11, 11, 3, 0, tzinfo=UTC)
    assert [c.type for c in step.changes] == ["agency_reported"]
    assert step.changes[0].view.agencies[0].status.value == "reported"
    assert state.parts[0].status.value == "summoned"  # the old state is untouched
    assert not step.state.complete

    done = AgencyDoneInput(agency="DA-URBAN", note="已清理", principal=agency("DA-URBAN"))
    step = model.act(step.state, LinkageAction.agency_done, done, T0 + timedelta(days=1))
    assert step.state.complete
    closed = model.finish(step.state, T0 + timedelta(days=1))
    assert closed.state.status is LinkageStatus.completed
    [change] = closed.changes
    assert change.type == "linkage_closed"
    assert [(n.recipient, n.kind) for n in change.notify] == [("CO-C01", "linkage_done")]


def test_a_silent_part_is_reminded_at_80_percent_then_late_to_the_coordinator() -> None:
    state = opened("DA-POLICE", "SD-CIVIL")
    alarm = model.next_alarm(state)
    assert alarm is not None
    assert (alarm.at, alarm.kind, alarm.unit, alarm.stage) == (
        T0 + timedelta(minutes=96),
        "remind",
        "DA-POLICE",
        "report",
    )
    state = model.ring(state, alarm, alarm.at).state
    alarm = model.next_alarm(state)
    assert alarm is not None and (alarm.kind, alarm.unit) == ("remind", "SD-CIVIL")
    step = model.ring(state, alarm, alarm.at)
    [reminder] = step.changes[0].notify
    assert (reminder.recipient, reminder.kind, reminder.params) == (
        "SD-CIVIL",
        "reminder",
        {"case_id": "C-1", "deadline": "agency_report", "due_at": "2026-11-04 12:00"},  # T0 + 2 h
    )
    state = step.state
    alarm = model.next_alarm(state)
    assert alarm is not None
    assert (alarm.at, alarm.kind, alarm.unit) == (T0 + timedelta(hours=2), "late", "DA-POLICE")
    step = model.ring(state, alarm, alarm.at)
    assert step.state.parts[0].late
    [change] = step.changes
    assert (change.type, change.data["stage"]) == ("agency_late", "report")
    assert [(n.recipient, n.kind, n.params) for n in change.notify] == [
        ("SD-CENTER", "linkage_late", {"case_id": "C-1", "agency": "DA-POLICE", "stage": "report"})
    ]


def test_an_agency_acts_for_its_own_part_only_and_in_order() -> None:
    state = opened("DA-POLICE", "SD-CIVIL")
    foreign = AgencyInput(agency="SD-CIVIL", principal=agency("DA-POLICE"))
    with pytest.raises(Forbidden):
        model.check(state, LinkageAction.report, foreign)
    with pytest.raises(Forbidden):  # no principal: not through the API
        model.check(state, LinkageAction.report, AgencyInput(agency="SD-CIVIL"))
    early = AgencyDoneInput(agency="SD-CIVIL", note="x", principal=agency("SD-CIVIL"))
    with pytest.raises(NotAllowedNow) as refused:
        model.check(state, LinkageAction.agency_done, early)
    assert refused.value.details["allowed_actions"] == ["report", "release_agency"]
    with pytest.raises(Forbidden):  # agencies do not summon each other
        model.check(
            state, LinkageAction.add_agency, AddAgencyInput(agency="PC-01", principal=agency("X"))
        )


def test_the_coordinator_adds_and_releases_parts() -> None:
    state = opened("DA-URBAN")
    added = model.act(
        state,
        LinkageAction.add_agency,
        AddAgencyInput(agency="PC-01", principal=CENTRE),
        T0 + timedelta(hours=1),
    )
    assert [p.unit for p in added.state.parts] == ["DA-URBAN", "PC-01"]
    assert added.state.parts[1].report_due == T0 + timedelta(hours=3)
    assert [(n.recipient, n.kind) for n in added.changes[0].notify] == [("PC-01", "linkage")]
    with pytest.raises(NotAllowedNow):  # already in
        model.check(
            added.state, LinkageAction.add_agency, AddAgencyInput(agency="PC-01", principal=CENTRE)
        )
    released = model.act(
        added.state,
        LinkageAction.release_agency,
        ReleaseAgencyInput(agency="DA-URBAN", reason="非其职责", principal=CENTRE),
        T0 + timedelta(hours=1),
    )
    assert not released.state.complete  # PC-01 still works on its part
    assert [a.unit for a in [model.next_alarm(released.state)] if a] == ["PC-01"]


def test_an_empty_or_finished_linkage_has_no_alarm() -> None:
    assert model.next_alarm(opened()) is None and not opened().complete

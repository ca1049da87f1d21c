"""Cases told through the lifecycle model alone (no workflow, no database): the unit tests'
way to make a case's state and its recorded events."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from domain import alarms, lifecycle
from domain.case import Action, CaseEvent, CaseIntake, Routed, Severity
from domain.change import Step
from domain.common import ActionInput
from domain.escalation import Rung
from domain.permissions import Principal, Role
from domain.sla import SlaPolicy
from domain.state import CaseState

T0 = datetime(2026, 11, 2, 1, 0, tzinfo=UTC)  # Monday 09:00 in Shanghai; no holiday near
POLICY = SlaPolicy(
    code="SLA-NORMAL",
    severity="normal",
    accept="2h",
    contact="24h",
    reply="7wd",
    rating_window="3wd",
)
LADDER = [
    Rung(level=1, name="community secretary", unit="CO-C01"),
    Rung(level=2, name="governance centre", unit="SD-CENTER"),
    Rung(level=3, name="district supervision", unit="DI-SUPERVISION"),
]
UNIT = "GT-C01-G01"
HANDLER = Principal(subject="wang", role=Role.unit_handler, unit=UNIT)
COMMITTEE = Principal(subject="li", role=Role.unit_handler, unit="CO-C01")
DISPATCHER = Principal(subject="zhao", role=Role.dispatcher)
SUPERVISOR = Principal(subject="chen", role=Role.supervisor)


def routed(**overrides: Any) -> Routed:
    return Routed.model_validate(
        {
            "unit": UNIT,
            "rule": "R-SAN-GRID",
            "reason": "grid team of C01-G01",
            "community": "C01",
            "grid": "C01-G01",
            "severity": Severity.normal,
            "policy": POLICY,
            "ladder": LADDER,
            "grid_team": UNIT,
            "committee": "CO-C01",
            **overrides,
        }
    )


class Story:
    """One case, moved by people and by its own alarms, minute by minute from T0."""

    def __init__(self, **intake: Any) -> None:
        self.intake = CaseIntake.model_validate(
            {
                "case_id": "LC-2026-000001",
                "number": 1,
                "channel": "hotline",
                "category": "sanitation.dead_corner",
                "title": "楼后卫生死角",
                "location": {"address": "怡顺社区 3 号楼", "grid": "C01-G01"},
                **intake,
            }
        )
        self.events: list[CaseEvent] = []
        self.steps: list[Step] = []
        self.now = T0
        self.state: CaseState = self.take(lifecycle.start(self.intake, T0)).state

    def take(self, step: Step) -> Step:
        self.state = step.state
        self.events += step.events
        self.steps.append(step)
        return step

    def at(self, minutes: float) -> datetime:
        return T0 + timedelta(minutes=minutes)

    def route(self, minutes: float = 1, **overrides: Any) -> Step:
        self.wait(minutes)
        return self.take(lifecycle.route(self.state, routed(**overrides), self.now))

    def wait(self, minutes: float, unrated_recently: int = 0) -> None:
        """Let time run: every alarm due by then rings, as the workflow's timer would."""
        until = self.at(minutes)
        while (alarm := alarms.next_alarm(self.state)) is not None and alarm.at <= until:
            self.take(alarms.ring(self.state, alarm, alarm.at, unrated_recently))
        self.now = until

    def act(
        self, minutes: float, action: Action, input: ActionInput, by: Principal = HANDLER
    ) -> Step:
        self.wait(minutes)
        signed = input.model_copy(update={"principal": by})
        return self.take(lifecycle.act(self.state, action, signed, self.now))

    @property
    def types(self) -> list[str]:
        return [e.type for e in self.events]

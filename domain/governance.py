"""config/governance.yaml: who files proactive cases, the hot spot rules, the recurring tasks."""

from __future__ import annotations

from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict

from domain.hotspot import HotspotRules
from domain.recurring import RecurringTask
from domain.repeat import RepeatRule


class ProactiveReporter(BaseModel):
    """Who files a proactive case: the governance centre, not a resident."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    phone: str


class GovernanceConfig(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    reporter: ProactiveReporter
    hotspots: HotspotRules = HotspotRules()
    repeats: RepeatRule = RepeatRule()
    recurring_tasks: list[RecurringTask] = []

    @classmethod
    def load(cls, config_dir: Path) -> GovernanceConfig:
        with (config_dir / "governance.yaml").open(encoding="utf-8") as f:
            return cls.model_validate(yaml.safe_load(f))

    def task(self, code: str) -> RecurringTask | None:
        return next((t for t in self.recurring_tasks if t.code == code), None)

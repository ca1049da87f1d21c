"""Hot spots (未诉先办): requests of one category piling up in one micro-grid. When `count` of
them arrive within `window_days`, the subdistrict opens one proactive governance case for the
grid instead of answering each request alone, and opens no second one while that one is open.

Pure: the hot spot workflow keeps a `Hotspot` and feeds it what it is told; the window is
measured on the cases' own receipt times, so no timer is needed to forget old ones.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from pydantic import BaseModel, ConfigDict, Field

# A governance case's external reference names its hot spot, so opening it twice finds the
# same case and closing it finds the hot spot again.
REF_PREFIX = "hotspot:"
# The hot spot workflow and its signals, by name (the case activities signal it without
# importing workflow code).
HOTSPOT_WORKFLOW = "HotspotWorkflow"
SEEN_SIGNAL = "seen"
CLOSED_SIGNAL = "governance_closed"


class HotspotRule(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    count: int = Field(default=3, ge=2)
    window_days: int = Field(default=14, ge=1)


class HotspotRules(BaseModel):
    """The default rule and per-category overrides (config/governance.yaml, `hotspots`)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    default: HotspotRule = HotspotRule()
    categories: dict[str, HotspotRule] = {}

    def rule_for(self, category: str) -> HotspotRule:
        return self.categories.get(category, self.default)


def hotspot_workflow_id(grid: str, category: str) -> str:
    return f"hotspot-{grid}-{category}"


class Sighting(BaseModel):
    """A request of the hot spot's category received in its grid."""

    case_id: str
    received_at: datetime


class Raised(BaseModel):
    """A hot spot that must open its governance case now."""

    key: str  # the governance case's external reference
    grid: str
    community: str | None
    category: str
    cases: list[str]  # the requests that raised it, oldest first
    rule: HotspotRule


class HotspotInput(BaseModel):
    grid: str
    category: str
    community: str | None = None
    carried: Hotspot | None = None  # the state handed over by continue-as-new
    history_limit: int | None = None  # tests lower it


class Hotspot(BaseModel):
    """One (grid, category): the requests inside the window and the governance case, if open."""

    grid: str
    category: str
    community: str | None = None
    rule: HotspotRule | None = None  # read once per run (a reload reaches it at continue-as-new)
    recent: list[Sighting] = []
    key: str | None = None  # the open hot spot's external reference
    governance_case: str | None = None
    cases: list[str] = []  # the requests linked to the open hot spot
    raised: int = 0  # governance cases opened so far

    def see(self, sighting: Sighting) -> Raised | None:
        """Count a request (a repeated signal counts once); raise the hot spot when the window
        holds enough and none is open. While one is open, requests are linked to it."""
        known = {s.case_id for s in self.recent} | set(self.cases)
        if sighting.case_id in known:
            return None
        if self.key is not None:
            self.cases.append(sighting.case_id)
            return None
        assert self.rule is not None
        newest = max([sighting.received_at, *(s.received_at for s in self.recent)])
        since = newest - timedelta(days=self.rule.window_days)
        self.recent = sorted(
            [s for s in [*self.recent, sighting] if s.received_at >= since],
            key=lambda s: s.received_at,
        )
        if len(self.recent) < self.rule.count:
            return None
        self.cases = [s.case_id for s in self.recent]
        self.key = f"{REF_PREFIX}{self.grid}:{self.category}:{self.cases[0]}"
        self.recent = []
        self.raised += 1
        return Raised(
            key=self.key,
            grid=self.grid,
            community=self.community,
            category=self.category,
            cases=list(self.cases),
            rule=self.rule,
        )

    def opened(self, case_id: str) -> None:
        self.governance_case = case_id

    def closed(self, case_id: str) -> bool:
        """The governance case closed: counting starts afresh. False if it is not ours."""
        if case_id != self.governance_case:
            return False
        self.key, self.governance_case, self.cases = None, None, []
        return True


class HotspotRecord(BaseModel):
    """A hot spot as `GET /v1/hotspots` shows it: written when it is raised and when its
    governance case closes (upserted by key, so a retried write changes nothing)."""

    key: str
    grid: str
    community: str | None
    category: str
    status: str  # open | closed
    governance_case: str | None
    cases: list[str]
    raised_at: datetime
    closed_at: datetime | None = None


HotspotInput.model_rebuild()  # Hotspot is defined after it

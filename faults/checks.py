"""What the fault test proves after the run, asked of PostgreSQL and Temporal themselves."""

from __future__ import annotations

import asyncio
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from typing import Any

from sqlalchemy import func, select

from core.config import Settings
from core.temporal import build_client
from db import stats
from db.models import Case, CaseEventRow, CaseIntakeKey, CaseRollupMonth, Notification
from db.session import make_engine, make_sessionmaker
from domain.calendar import SUBDISTRICT_TZ
from domain.kpi import StatsRow

# Each of these happens exactly once in the life the clients drive.
ONCE = ("received", "dispatched", "accept", "contact", "reply", "rate", "closed")
CLOSING_WAIT_SECONDS = 120.0


@dataclass
class Verdict:
    closed: int = 0
    lost: int = 0
    duplicated: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def held(self) -> bool:
        return not self.problems

    def fail(self, problem: str, lost: int = 0, duplicated: int = 0) -> None:
        self.problems.append(problem)
        self.lost += lost
        self.duplicated += duplicated


async def verify(settings: Settings, accepted: dict[str, str], run: str) -> Verdict:
    verdict = Verdict()
    ids = set(accepted.values())
    engine = make_engine(settings, pool_size=2)
    sessions = make_sessionmaker(engine)
    try:
        verdict.closed = await _wait_closed(sessions, ids)
        async with sessions() as session:
            rows = (
                await session.execute(
                    select(Case.external_ref, Case.id, Case.status).where(
                        Case.external_ref.like(f"faults-{run}-%")
                    )
                )
            ).all()
            by_ref: dict[str, list[str]] = {}
            for ref, case_id, _ in rows:
                by_ref.setdefault(ref or "", []).append(case_id)
            lost = [ref for ref in accepted if ref not in by_ref]
            if lost:
                verdict.fail(f"accepted but never recorded: {lost[:5]}", lost=len(lost))
            twice = {ref: found for ref, found in by_ref.items() if len(found) > 1}
            if twice:
                verdict.fail(f"one intake, several cases: {list(twice.items())[:5]}", 0, len(twice))
            wrong = [ref for ref, found in by_ref.items() if accepted.get(ref) not in found]
            if wrong:
                verdict.fail(f"a case the client was never told of: {wrong[:5]}", 0, len(wrong))
            if verdict.closed != len(ids):
                open_ = [case_id for _, case_id, status in rows if status != "closed"]
                verdict.fail(f"{len(ids) - verdict.closed} not closed, e.g. {open_[:5]}")

            keys = Counter(
                (
                    await session.scalars(
                        select(CaseIntakeKey.case_id).where(
                            CaseIntakeKey.external_ref.like(f"faults-{run}-%")
                        )
                    )
                ).all()
            )
            if set(keys) != ids or any(n > 1 for n in keys.values()):
                verdict.fail("intake keys do not match the accepted cases one to one", 0, 1)

            events = (
                await session.execute(
                    select(CaseEventRow.case_id, CaseEventRow.type, func.count())
                    .where(CaseEventRow.case_id.in_(ids), CaseEventRow.type.in_(ONCE))
                    .group_by(CaseEventRow.case_id, CaseEventRow.type)
                )
            ).all()
            counted = {(case_id, kind): n for case_id, kind, n in events}
            doubled = [key for key, n in counted.items() if n > 1]
            missing = [(c, k) for c in ids for k in ONCE if (c, k) not in counted]
            if doubled:
                verdict.fail(f"events applied twice: {doubled[:5]}", 0, len(doubled))
            if missing:
                verdict.fail(f"events missing: {missing[:5]}", len(missing), 0)

            notifications = (
                await session.execute(
                    select(
                        Notification.case_id,
                        Notification.recipient,
                        Notification.kind,
                        Notification.params,
                        func.count(),
                    )
                    .where(Notification.case_id.in_(ids))
                    .group_by(
                        Notification.case_id,
                        Notification.recipient,
                        Notification.kind,
                        Notification.params,
                    )
                    .having(func.count() > 1)
                )
            ).all()
            if notifications:
                verdict.fail(
                    f"notifications twice: {[n[:3] for n in notifications[:5]]}",
                    0,
                    len(notifications),
                )
            await _rollups_equal_rows(session, verdict)
    finally:
        await engine.dispose()
    await _one_workflow_each(settings, ids, verdict)
    return verdict


async def _wait_closed(sessions: Any, ids: set[str]) -> int:
    """Cases close a moment after their rating: wait for the record to say so."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + CLOSING_WAIT_SECONDS
    while True:
        async with sessions() as session:
            closed = int(
                await session.scalar(
                    select(func.count()).where(Case.id.in_(ids), Case.status == "closed")
                )
                or 0
            )
        if closed == len(ids) or loop.time() > deadline:
            return closed
        await asyncio.sleep(1)


async def _rollups_equal_rows(session: Any, verdict: Verdict) -> None:
    today = datetime.now(SUBDISTRICT_TZ).date()
    start = datetime.combine(today - timedelta(days=1), time(), SUBDISTRICT_TZ)
    end = datetime.combine(today + timedelta(days=2), time(), SUBDISTRICT_TZ)
    month = datetime.combine(today.replace(day=1), time(), SUBDISTRICT_TZ)
    next_month = (month + timedelta(days=32)).replace(day=1)
    for group_by in ([], ["community", "channel"]):
        direct = await stats.case_stats_direct(session, start=start, end=end, group_by=group_by)
        rolled = await stats.case_stats_from_rollup(
            session, start=start, end=end, group_by=group_by
        )
        if _counts(direct) != _counts(rolled):
            verdict.fail(f"daily rollup differs from the rows by {group_by}")
        direct = await stats.case_stats_direct(
            session, start=month, end=next_month, group_by=group_by
        )
        monthly = await stats.case_stats_from_rollup(
            session, start=month, end=next_month, group_by=group_by, table=CaseRollupMonth
        )
        if _counts(direct) != _counts(monthly):
            verdict.fail(f"monthly rollup differs from the rows by {group_by}")


def _counts(rows: list[StatsRow]) -> dict[tuple[object, ...], dict[str, int]]:
    return {tuple(r.group.values()): r.counts.model_dump() for r in rows}


async def _one_workflow_each(settings: Settings, ids: set[str], verdict: Verdict) -> None:
    client = await build_client(settings)
    runs: Counter[str] = Counter()
    unfinished = []
    async for execution in client.list_workflows("WorkflowType = 'CaseWorkflow'"):
        runs[execution.id] += 1
        status = execution.status.name if execution.status is not None else "UNKNOWN"
        if execution.id in ids and status != "COMPLETED":
            unfinished.append((execution.id, status))
    twice = [i for i, n in runs.items() if n > 1]
    if twice:
        verdict.fail(f"several workflow runs for one case: {twice[:5]}", 0, len(twice))
    without = ids - set(runs)
    if without:
        verdict.fail(f"cases without a workflow: {sorted(without)[:5]}", len(without), 0)
    if unfinished:
        verdict.fail(f"workflows not completed: {unfinished[:5]}")

"""Grid events (channel grid_patrol): small matters solved inside the grid, and big ones checked
on site by the grid worker before they close."""

from __future__ import annotations

from typing import Any

from domain.case import (
    AcceptInput,
    Action,
    CaseStatus,
    ConfirmInput,
    ContactInput,
    Outcome,
    ReplyInput,
    ResolveOnSiteInput,
    VerifyInput,
)
from domain.sla import DeadlineKind
from tests.workflows.conftest import act, events_of
from tests.workflows.test_deadlines import notices
from workflows.case import CaseWorkflow

PATROL = {
    "channel": "grid_patrol",
    "external_ref": None,
    "reporter": {"name": "孙淑臻", "phone": "13800000004"},
    "photo_url": "https://photos.example/c01-g01/1.jpg",
}


async def test_a_grid_worker_solves_an_event_on_the_spot_and_the_community_confirms(
    start: Any, sessions: Any
) -> None:
    handle = await start(**PATROL)
    assert "resolve_on_site" in (await handle.query(CaseWorkflow.state)).allowed_actions
    view = await act(
        handle,
        Action.resolve_on_site,
        ResolveOnSiteInput(
            evidence_url="https://photos.example/c01-g01/1-after.jpg",
            note="当场清理完毕",
        ),
    )
    assert view.status is CaseStatus.resolved_on_site and view.allowed_actions == ["confirm"]
    closed = await act(handle, Action.confirm, ConfirmInput(note="社区已确认"))
    assert (closed.status, closed.outcome) == (CaseStatus.closed, Outcome.self_resolved)
    assert (await events_of(sessions, handle.id))[-3:] == ["resolve_on_site", "confirm", "closed"]
    assert ("CO-C01", "confirm") in await notices(sessions, handle.id)


async def test_a_residents_request_cannot_be_resolved_on_the_spot(start: Any) -> None:
    handle = await start()  # a hotline case
    assert "resolve_on_site" not in (await handle.query(CaseWorkflow.state)).allowed_actions


async def test_verification_fails_once_then_passes(start: Any, sessions: Any) -> None:
    handle = await start(**PATROL)
    await act(handle, Action.accept, AcceptInput())
    await act(handle, Action.contact, ContactInput(note="已与网格员沟通"))
    replied = await act(handle, Action.reply, ReplyInput(result="已清理"))
    assert replied.status is CaseStatus.verifying and replied.allowed_actions == ["verify"]
    assert {d.kind for d in replied.deadlines} >= {DeadlineKind.verify}

    back = await act(handle, Action.verify, VerifyInput(fixed=False, note="仍有垃圾"))
    reply = next(d for d in back.deadlines if d.kind is DeadlineKind.reply)
    assert back.status is CaseStatus.in_progress and reply.met_at is None
    await act(handle, Action.reply, ReplyInput(result="二次清理"))
    closed = await act(
        handle, Action.verify, VerifyInput(fixed=True, evidence_url="https://photos.example/ok.jpg")
    )
    assert (closed.status, closed.outcome) == (CaseStatus.closed, Outcome.verified)
    events = await events_of(sessions, handle.id)
    assert events.count("verify") == 2 and "rate" not in events
    assert ("GT-C01-G01", "verify") in await notices(sessions, handle.id)

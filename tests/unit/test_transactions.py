"""Where the API's database transactions end (issue: a commit after the response had started
cut a client's connection, and a transaction stayed open while an action waited on Temporal).
Every route that takes the request's session ends it when the route returns, before the
response starts; no action route takes it at all (the adapter opens short ones around, never
across, its Temporal call)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute

from api.deps import get_session
from api.main import create_app
from core.config import Settings


def sessions_of(dependant: Dependant) -> Iterator[Dependant]:
    for inner in dependant.dependencies:
        if inner.call is get_session:
            yield inner
        yield from sessions_of(inner)


def routes() -> list[APIRoute]:
    """Every route of the app, through the routers it includes."""
    found: list[APIRoute] = []
    pending: list[Any] = list(create_app(Settings()).router.routes)
    while pending:
        route = pending.pop()
        if isinstance(route, APIRoute):
            found.append(route)
        included = getattr(route, "original_router", None)  # an included router
        pending.extend(included.routes if included is not None else [])
    return found


def test_the_request_s_transaction_ends_before_its_response() -> None:
    holding = {
        f"{sorted(r.methods)[0]} {r.path}": [d.scope for d in sessions_of(r.dependant)]
        for r in routes()
    }
    assert any(holding.values())  # the lists, stats, reviews... do read through it
    late = {route: scopes for route, scopes in holding.items() if set(scopes) - {"function"}}
    assert not late, late


def test_no_action_holds_a_transaction_while_it_waits_on_temporal() -> None:
    actions = [
        r for r in routes() if r.path.startswith("/v1/cases/{case_id}/") and "POST" in r.methods
    ]
    assert len(actions) > 20
    assert [r.path for r in actions if any(sessions_of(r.dependant))] == []
    intake = next(r for r in routes() if r.path == "/v1/cases" and "POST" in r.methods)
    assert not any(sessions_of(intake.dependant))

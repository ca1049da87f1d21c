"""The one call the case record activity makes into governance: feed the hot spots. Imports
only the domain (the workflow is named, not imported), so the case activities stay light."""

from __future__ import annotations

from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode

from domain.case import CaseRecord, Channel
from domain.hotspot import (
    CLOSED_SIGNAL,
    HOTSPOT_WORKFLOW,
    REF_PREFIX,
    SEEN_SIGNAL,
    HotspotInput,
    Sighting,
    hotspot_workflow_id,
)


async def feed_hotspots(client: Client, record: CaseRecord, task_queue: str) -> None:
    """Called by the case record activity after each record: a request just received in a grid
    is a sighting for its (grid, category) hot spot (signal-with-start, so the first one starts
    it); a governance case that just closed frees its hot spot. Only ids and times are sent:
    nothing personal reaches the hot spot's history."""
    case = record.case
    types = {e.type for e in record.events}
    if case.grid is None:
        return
    workflow_id = hotspot_workflow_id(case.grid, case.category)
    if case.channel is Channel.proactive:
        if "closed" in types and (case.external_ref or "").startswith(REF_PREFIX):
            try:
                await client.get_workflow_handle(workflow_id).signal(CLOSED_SIGNAL, case.id)
            except RPCError as error:
                if error.status is not RPCStatusCode.NOT_FOUND:
                    raise
        return
    if "received" in types:
        await client.start_workflow(
            HOTSPOT_WORKFLOW,
            HotspotInput(grid=case.grid, category=case.category, community=case.community),
            id=workflow_id,
            task_queue=task_queue,
            start_signal=SEEN_SIGNAL,
            start_signal_args=[Sighting(case_id=case.id, received_at=case.received_at)],
            static_summary=f"hot spot {case.grid} · {case.category}",
        )
